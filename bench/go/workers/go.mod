module workcompat/bench/workers

go 1.22

require (
	github.com/gocraft/work v0.5.2-0.20200429214246-5959e69ad211
	github.com/gomodule/redigo v2.0.0+incompatible
)

require github.com/robfig/cron/v3 v3.0.1 // indirect
