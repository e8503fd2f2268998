module github.com/spanbridge/spanbridge/tests/plain

go 1.26.0
