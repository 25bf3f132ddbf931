// The library this module builds against, github.com/gocraft/work at commit 5959e69: main.go (one file for both
// modules) reaches it only through these names.

package main

import (
	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
)

const libraryModule = "github.com/gocraft/work"

// workJob is what a handler gets.
type workJob = work.Job

func newWorkerPool(concurrency uint, namespace string, pool *redis.Pool) *work.WorkerPool {
	return work.NewWorkerPool(struct{}{}, concurrency, namespace, pool)
}
