module github.com/spanbridge/spanbridge/go

go 1.22
