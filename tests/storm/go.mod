module github.com/spanbridge/spanbridge/tests/storm

go 1.26.0
