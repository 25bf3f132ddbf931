// Command workers runs a work library's worker pool with a no-op handler, for bench/workers.py.
//
// This file serves two modules: ../workers (github.com/gocraft/work at 5959e69) and ../workers-fork
// (github.com/LarnTechKe/work v0.0.3) link to one copy; each module's compat.go imports its library.
//
// It enqueues nothing: the runner fills the queue with work_compat's Enqueuer. The pool (concurrency
// -concurrency, job name -job, namespace -ns) runs until it has seen -n jobs, then stops and prints one
// JSON document on stdout: the pool's start time, the first job start and last job end of the jobs
// without an enqueue time (the throughput jobs), and per-job start timestamps and enqueue times of the
// jobs that carry one (arg "t", seconds since the epoch as a float: the latency jobs). All times are
// Unix nanoseconds.
//
// Like every runner of the benchmark, the handler also makes one 32-byte record per job for the FIFO
// given by -report (little-endian int64s: arg "i", start ns, end ns, enqueue ns or 0). It appends it
// to a buffer a goroutine writes every 2 ms, at most PIPE_BUF bytes per write (atomic, so writers
// never interleave).
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
)

type throughput struct {
	Count        int64 `json:"count"`
	FirstStartNs int64 `json:"first_start_ns"`
	LastEndNs    int64 `json:"last_end_ns"`
}

type latency struct {
	Count      int     `json:"count"`
	I          []int64 `json:"i"`
	StartNs    []int64 `json:"start_ns"`
	EnqueuedNs []int64 `json:"enqueued_ns"`
}

type output struct {
	Library     string     `json:"library"`
	GoVersion   string     `json:"go_version"`
	Namespace   string     `json:"namespace"`
	Concurrency uint       `json:"concurrency"`
	Want        int64      `json:"want"`
	Seen        int64      `json:"seen"`
	Complete    bool       `json:"complete"`
	Reason      string     `json:"reason"`
	PoolStartNs int64      `json:"pool_start_ns"`
	Throughput  throughput `json:"throughput"`
	Latency     latency    `json:"latency"`
}

type slot struct {
	i, start, end, enq int64
}

func main() {
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL, dialled with redigo's DialURL")
	ns := flag.String("ns", "bench-workers", "work namespace")
	jobName := flag.String("job", "noop", "job name")
	concurrency := flag.Uint("concurrency", 8, "worker pool concurrency")
	n := flag.Int64("n", 10000, "stop after this many jobs")
	report := flag.String("report", "", "FIFO to write one record per job to (optional)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up (exit 1) after this long")
	flag.Parse()
	if *n <= 0 || *concurrency == 0 {
		fmt.Fprintln(os.Stderr, "-n and -concurrency must be positive")
		os.Exit(2)
	}

	var fifo *os.File
	if *report != "" {
		f, err := os.OpenFile(*report, os.O_WRONLY, 0)
		if err != nil {
			fail(err)
		}
		fifo = f
	}

	redisPool := &redis.Pool{
		MaxActive:   0, // unlimited, as most deployments of gocraft/work run it
		MaxIdle:     int(*concurrency) + 4,
		IdleTimeout: 240 * time.Second,
		Dial:        func() (redis.Conn, error) { return redis.DialURL(*redisURL) },
	}
	defer redisPool.Close()

	// The handler appends its record to pending; this goroutine writes them every 2 ms, at most
	// 4096 bytes (PIPE_BUF) per write, as the Python runners do (bench/peers/_common.py).
	var pendingMu sync.Mutex
	var pending []byte
	flushReport := func() {
		pendingMu.Lock()
		out := pending
		pending = nil
		pendingMu.Unlock()
		for len(out) > 0 {
			k := min(len(out), 4096)
			if _, err := fifo.Write(out[:k]); err != nil {
				fmt.Fprintln(os.Stderr, "report:", err)
			}
			out = out[k:]
		}
	}
	if fifo != nil {
		go func() {
			for {
				time.Sleep(2 * time.Millisecond)
				flushReport()
			}
		}()
	}

	slots := make([]slot, *n)
	var seen int64
	done := make(chan struct{})
	var once sync.Once

	handler := func(job *workJob) error {
		start := time.Now().UnixNano()
		var i, enq int64
		if v, ok := job.Args["i"].(float64); ok {
			i = int64(v)
		}
		if v, ok := job.Args["t"].(float64); ok {
			enq = int64(v * 1e9)
		}
		idx := atomic.AddInt64(&seen, 1) - 1
		end := time.Now().UnixNano()
		if idx < *n {
			slots[idx] = slot{i, start, end, enq}
		}
		if fifo != nil {
			var rec [32]byte
			binary.LittleEndian.PutUint64(rec[0:], uint64(i))
			binary.LittleEndian.PutUint64(rec[8:], uint64(start))
			binary.LittleEndian.PutUint64(rec[16:], uint64(end))
			binary.LittleEndian.PutUint64(rec[24:], uint64(enq))
			pendingMu.Lock()
			pending = append(pending, rec[:]...)
			pendingMu.Unlock()
		}
		if idx+1 == *n {
			once.Do(func() { close(done) })
		}
		return nil
	}

	pool := newWorkerPool(*concurrency, *ns, redisPool)
	pool.Job(*jobName, handler)
	poolStart := time.Now().UnixNano()
	pool.Start()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	reason := "seen all jobs"
	complete := true
	select {
	case <-done:
	case s := <-sigs:
		reason, complete = "signal "+s.String(), false
	case <-time.After(*timeout):
		reason, complete = "timeout", false
	}
	pool.Stop()
	if fifo != nil {
		flushReport() // what the handlers recorded since the last tick
	}

	out := output{
		Library: library(), GoVersion: runtime.Version(), Namespace: *ns, Concurrency: *concurrency,
		Want: *n, Complete: complete, Reason: reason, PoolStartNs: poolStart,
	}
	got := atomic.LoadInt64(&seen)
	if got > *n {
		got = *n
	}
	out.Seen = got
	out.Latency = latency{I: []int64{}, StartNs: []int64{}, EnqueuedNs: []int64{}}
	for _, s := range slots[:got] {
		if s.enq == 0 {
			t := &out.Throughput
			if t.Count == 0 || s.start < t.FirstStartNs {
				t.FirstStartNs = s.start
			}
			if s.end > t.LastEndNs {
				t.LastEndNs = s.end
			}
			t.Count++
		} else {
			l := &out.Latency
			l.Count++
			l.I = append(l.I, s.i)
			l.StartNs = append(l.StartNs, s.start)
			l.EnqueuedNs = append(l.EnqueuedNs, s.enq)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
	if !complete {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "workers:", err)
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
