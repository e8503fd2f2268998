module github.com/spanbridge/spanbridge/testing/storm

go 1.26.0
