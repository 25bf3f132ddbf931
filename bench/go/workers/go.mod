module workcompat/bench/workers

go 1.22

require (
	github.com/gocraft/work v0.5.1
	github.com/gomodule/redigo v1.9.2
)

require github.com/robfig/cron v1.2.0 // indirect
