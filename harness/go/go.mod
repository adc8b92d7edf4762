module stackquake/harness/go

go 1.18
