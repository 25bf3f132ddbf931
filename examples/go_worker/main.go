// Command go_worker is the Go half of the work-compat demo: a gocraft/work worker pool that runs
// the jobs a Python service enqueued with work_compat, on the same Redis namespace, and a Go
// enqueuer whose jobs a Python pool runs.
//
// Build it once, then run the binary (./dev.sh demo builds it in a temporary copy: work_compat/demo_go.py):
//
//	go build -mod=mod -o /tmp/go_worker .
//	/tmp/go_worker -redis redis://127.0.0.1:6379/0 -ns demo -jobs send_email,resize_image -expect 5
//	/tmp/go_worker -redis redis://127.0.0.1:6379/0 -ns demo -enqueue generate_report=3
//	/tmp/go_worker -redis redis://127.0.0.1:6379/0 -ns shop -enqueue shop.tasks.resize_image=1 -args '{"path":"/a.png","width":320}'
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
)

type Context struct{}

func main() {
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL")
	namespace := flag.String("ns", "demo", "work namespace")
	jobs := flag.String("jobs", "send_email", "comma-separated job names to handle")
	expect := flag.Int("expect", 0, "exit after this many jobs (0: run until interrupted)")
	timeout := flag.Duration("timeout", 30*time.Second, "give up waiting after this long")
	enqueue := flag.String("enqueue", "", "name=count,...: enqueue jobs from Go and exit")
	argsJSON := flag.String("args", "", `args of the enqueued jobs as a JSON object (default {"n": i, "from": "go"})`)
	flag.Parse()

	pool := &redis.Pool{
		MaxActive: 5,
		MaxIdle:   5,
		Wait:      true,
		Dial:      func() (redis.Conn, error) { return redis.DialURL(*redisURL) },
	}
	defer pool.Close()

	if *enqueue != "" {
		var args map[string]interface{}
		if *argsJSON != "" {
			if err := json.Unmarshal([]byte(*argsJSON), &args); err != nil {
				fmt.Fprintf(os.Stderr, "go enqueuer: -args is not a JSON object: %v\n", err)
				os.Exit(2)
			}
		}
		enqueueJobs(work.NewEnqueuer(*namespace, pool), *enqueue, args)
		return
	}

	var mu sync.Mutex
	done := make(chan struct{})
	seen := 0
	handler := func(job *work.Job) error {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("go worker ran %-13s id=%s args=%v\n", job.Name, job.ID, job.Args)
		seen++
		if *expect > 0 && seen == *expect {
			close(done)
		}
		return nil
	}

	wp := work.NewWorkerPool(Context{}, 4, *namespace, pool)
	for _, name := range strings.Split(*jobs, ",") {
		wp.Job(name, handler)
	}
	wp.Start()
	select {
	case <-done:
	case <-time.After(*timeout):
		fmt.Fprintf(os.Stderr, "go worker: timed out after %s with %d of %d jobs\n", *timeout, seen, *expect)
		wp.Stop()
		os.Exit(1)
	}
	wp.Drain()
	wp.Stop()
}

func enqueueJobs(enqueuer *work.Enqueuer, spec string, fixed map[string]interface{}) {
	for _, item := range strings.Split(spec, ",") {
		name, count, _ := strings.Cut(item, "=")
		n, err := strconv.Atoi(count)
		if err != nil {
			fmt.Fprintf(os.Stderr, "go enqueuer: bad count in %q\n", item)
			os.Exit(2)
		}
		for i := 1; i <= n; i++ {
			args := work.Q{"n": i, "from": "go"}
			if fixed != nil {
				args = work.Q(fixed)
			}
			job, err := enqueuer.Enqueue(name, args)
			if err != nil {
				fmt.Fprintf(os.Stderr, "go enqueuer: %v\n", err)
				os.Exit(1)
			}
			fmt.Printf("go enqueued %-15s id=%s args=%v\n", job.Name, job.ID, job.Args)
		}
	}
}
