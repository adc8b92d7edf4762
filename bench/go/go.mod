module stackquake/bench/go

go 1.19
