module github.com/spanbridge/spanbridge/testing/plain

go 1.26.0
