// The library this module builds against, github.com/LarnTechKe/work v0.0.3: main.go (one file for both
// modules) reaches it only through these names.

package main

import (
	work "github.com/LarnTechKe/work"
	"github.com/gomodule/redigo/redis"
)

const libraryModule = "github.com/LarnTechKe/work"

// workQ is the args map of Enqueue.
type workQ = work.Q

func newEnqueuer(namespace string, pool *redis.Pool) *work.Enqueuer {
	return work.NewEnqueuer(namespace, pool)
}
