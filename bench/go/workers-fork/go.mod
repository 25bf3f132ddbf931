module workcompat/bench/workers-fork

go 1.24.1

require (
	github.com/LarnTechKe/work v0.0.3
	github.com/gomodule/redigo v1.9.2
)

require github.com/robfig/cron/v3 v3.0.1 // indirect
