package main

// Library-specific parts of the driver for github.com/gocraft/work v0.5.1.
// The fork's copy of this file (tests/interop/fork/compat.go) provides the
// same functions for github.com/LarnTechKe/work.

import (
	"errors"
	"fmt"

	"github.com/gocraft/work"
)

const libraryName = "github.com/gocraft/work v0.5.1"

// errUnsupported is reported for enqueue calls the library does not have.
var errUnsupported = errors.New("unsupported")

// validateCallExtra checks the library-specific parts of an enqueue call.
// v0.5.1 has no options, so there is nothing to check.
func validateCallExtra(c *enqueueCall) error {
	return nil
}

// enqueueExtra performs the enqueue calls that main.go does not handle
// itself: EnqueueUniqueByKey, EnqueueUniqueInByKey and EnqueueWithOptions.
// v0.5.1 has none of them.
func enqueueExtra(e *work.Enqueuer, c *enqueueCall) (interface{}, error) {
	switch c.Call {
	case "EnqueueUniqueByKey", "EnqueueUniqueInByKey", "EnqueueWithOptions":
		return nil, errUnsupported
	}
	return nil, fmt.Errorf("unknown call %q", c.Call)
}

// jobUniqueKey returns the job's unique key as the library sees it. The v0.5.1
// Job struct has no UniqueKey field, so this is always null.
func jobUniqueKey(j *work.Job) interface{} {
	return nil
}

// listExtra adds library-specific views to "driver list". v0.5.1 has none.
func listExtra(c *work.Client, page uint, jobName string, out map[string]interface{}) {}

// The library's names that main.go uses, so that main.go is one file shared by both modules
// (fork/main.go is a link to orig/main.go).
type (
	Job        = work.Job
	Client     = work.Client
	JobOptions = work.JobOptions
	Enqueuer   = work.Enqueuer
)

var (
	NewClient     = work.NewClient
	NewEnqueuer   = work.NewEnqueuer
	NewWorkerPool = work.NewWorkerPool
)
