module embedserve.local/node/pause

go 1.24.0
