package main

// Library-specific parts of the driver for github.com/gocraft/work at commit
// 5959e69. The fork's copy of this file (tests/interop/fork/compat.go)
// provides the same functions for github.com/LarnTechKe/work.

import (
	"errors"
	"fmt"

	"github.com/gocraft/work"
)

const libraryName = "github.com/gocraft/work v0.5.2-0.20200429214246-5959e69ad211"

// errUnsupported is reported for enqueue calls the library does not have.
var errUnsupported = errors.New("unsupported")

// validateCallExtra checks the library-specific parts of an enqueue call.
// gocraft/work has no enqueue options, so there is nothing to check.
func validateCallExtra(c *enqueueCall) error {
	return nil
}

// enqueueExtra performs the enqueue calls that main.go does not handle
// itself: EnqueueUniqueByKey, EnqueueUniqueInByKey and EnqueueWithOptions.
// gocraft/work has the ByKey calls but no EnqueueWithOptions.
func enqueueExtra(e *work.Enqueuer, c *enqueueCall) (interface{}, error) {
	switch c.Call {
	case "EnqueueUniqueByKey":
		return e.EnqueueUniqueByKey(c.JobName, c.args, c.keyMap)
	case "EnqueueUniqueInByKey":
		return e.EnqueueUniqueInByKey(c.JobName, c.SecondsFromNow, c.args, c.keyMap)
	case "EnqueueWithOptions":
		return nil, errUnsupported
	}
	return nil, fmt.Errorf("unknown call %q", c.Call)
}

// jobUniqueKey returns the job's unique key as the library sees it.
func jobUniqueKey(j *work.Job) interface{} {
	return j.UniqueKey
}

// listExtra adds library-specific views to "driver list". gocraft/work has none.
func listExtra(c *work.Client, page uint, jobName string, out map[string]interface{}) {}

// historyView: gocraft/work keeps no job history.
func historyView(c *work.Client, page uint, jobName, id string) (interface{}, error) {
	return nil, errUnsupported
}

// scheduleOp: gocraft/work has no runtime schedules.
func scheduleOp(c *work.Client, in scheduleInput) (interface{}, error) {
	return nil, errUnsupported
}

// periodicallyEnqueueWithArgs: gocraft/work's periodic jobs carry no args.
func periodicallyEnqueueWithArgs(wp *work.WorkerPool, spec, name string, args map[string]interface{}) error {
	return errors.New("gocraft/work has no PeriodicallyEnqueueWithArgs")
}

// The library's names that main.go uses, so that main.go is one file shared by both modules
// (fork/main.go is a link to orig/main.go).
type (
	Job        = work.Job
	Client     = work.Client
	JobOptions = work.JobOptions
	Enqueuer   = work.Enqueuer

	WorkerPoolOptions = work.WorkerPoolOptions
)

var (
	NewClient                = work.NewClient
	NewEnqueuer              = work.NewEnqueuer
	NewWorkerPoolWithOptions = work.NewWorkerPoolWithOptions
)
