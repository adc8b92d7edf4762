module repro

go 1.18
