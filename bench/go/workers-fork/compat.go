// The library this module builds against, github.com/LarnTechKe/work v0.0.3: main.go (one file for both
// modules) reaches it only through these names.

package main

import (
	work "github.com/LarnTechKe/work"
	"github.com/gomodule/redigo/redis"
)

const libraryModule = "github.com/LarnTechKe/work"

// workJob is what a handler gets.
type workJob = work.Job

func newWorkerPool(concurrency uint, namespace string, pool *redis.Pool) *work.WorkerPool {
	return work.NewWorkerPool(struct{}{}, concurrency, namespace, pool)
}
