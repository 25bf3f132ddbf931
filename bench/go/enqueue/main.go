// Command enqueue times a work library's Enqueuer.Enqueue: one call per job, one goroutine.
//
// This file serves two modules: ../enqueue (github.com/gocraft/work at 5959e69) and ../enqueue-fork
// (github.com/LarnTechKe/work v0.0.3) link to one copy; each module's compat.go imports its library.
//
// Each run FLUSHes the Redis database, makes a fresh Enqueuer (so its known_jobs cache starts empty,
// as a fresh Python Enqueuer's does) and enqueues -n jobs named bench_job with args
// {"i": k, "s": "xxx...x" (32)}. It then checks LLEN and returns one stored job so the caller can
// decode it. Output: one JSON document on stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

const jobName = "bench_job"

type runResult struct {
	Seconds   float64 `json:"seconds"`
	LLen      int64   `json:"llen"`
	SampleJob string  `json:"sample_job"`
}

type output struct {
	Library   string      `json:"library"`
	GoVersion string      `json:"go_version"`
	Namespace string      `json:"namespace"`
	N         int         `json:"n"`
	Runs      []runResult `json:"runs"`
}

func main() {
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL, dialled with redigo's DialURL")
	ns := flag.String("ns", "bench-enqueue-go", "work namespace")
	n := flag.Int("n", 10000, "jobs per run")
	runs := flag.Int("runs", 5, "measured runs")
	flag.Parse()
	if *n <= 0 || *runs <= 0 {
		fmt.Fprintln(os.Stderr, "-n and -runs must be positive")
		os.Exit(2)
	}

	pool := &redis.Pool{
		MaxIdle:     4, // keep the connection between calls; 0 would dial one per Enqueue
		IdleTimeout: 240 * time.Second,
		Dial:        func() (redis.Conn, error) { return redis.DialURL(*redisURL) },
	}
	defer pool.Close()

	filler := strings.Repeat("x", 32)
	out := output{Library: library(), GoVersion: runtime.Version(), Namespace: *ns, N: *n}
	queue := *ns + ":jobs:" + jobName

	for r := 0; r < *runs; r++ {
		if err := do(pool, "FLUSHDB"); err != nil { // also warms the pool: the timed loop reuses this connection
			fail(err)
		}
		enq := newEnqueuer(*ns, pool)
		runtime.GC()

		start := time.Now()
		for k := 0; k < *n; k++ {
			if _, err := enq.Enqueue(jobName, workQ{"i": k, "s": filler}); err != nil {
				fail(err)
			}
		}
		elapsed := time.Since(start)

		conn := pool.Get()
		llen, err := redis.Int64(conn.Do("LLEN", queue))
		if err != nil {
			conn.Close()
			fail(err)
		}
		sample, err := redis.String(conn.Do("LINDEX", queue, 0))
		conn.Close()
		if err != nil {
			fail(err)
		}
		out.Runs = append(out.Runs, runResult{Seconds: elapsed.Seconds(), LLen: llen, SampleJob: sample})
	}

	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func do(pool *redis.Pool, cmd string, args ...interface{}) error {
	conn := pool.Get()
	defer conn.Close()
	_, err := conn.Do(cmd, args...)
	return err
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "enqueue:", err)
	os.Exit(1)
}

// library names the work library this binary was built against, as Go recorded it: module, version
// and, when a replace pointed the build at a local source tree, that tree.
func library() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return libraryModule
	}
	for _, dep := range info.Deps {
		if dep.Path != libraryModule {
			continue
		}
		name := dep.Path + " " + dep.Version
		if dep.Replace != nil {
			name += " (replaced by " + dep.Replace.Path + ")"
		}
		return name
	}
	return libraryModule
}
