// The library this module builds against, github.com/gocraft/work at commit 5959e69: main.go (one file for both
// modules) reaches it only through these names.

package main

import (
	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
)

const libraryModule = "github.com/gocraft/work"

// workQ is the args map of Enqueue.
type workQ = work.Q

func newEnqueuer(namespace string, pool *redis.Pool) *work.Enqueuer {
	return work.NewEnqueuer(namespace, pool)
}
