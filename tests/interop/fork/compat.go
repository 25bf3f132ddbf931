package main

// Library-specific parts of the driver for github.com/LarnTechKe/work (a fork
// of gocraft/work). The original's copy of this file
// (tests/interop/orig/compat.go) provides the same functions for
// github.com/gocraft/work.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/LarnTechKe/work"
)

const libraryName = "github.com/LarnTechKe/work v0.0.3"

// errUnsupported is reported for calls the library does not have (the fork has them all).
var errUnsupported = errors.New("unsupported")

// retryOptionsJSON is the "retry" member of an EnqueueWithOptions call's
// "options"; it maps onto work.RetryOptions.
type retryOptionsJSON struct {
	MaxRetries int64           `json:"max_retries"`
	Strategy   json.RawMessage `json:"strategy"` // 0|1|2 or "exponential"|"linear"|"fixed"
	BaseDelay  int64           `json:"base_delay"`
}

// enqueueOptionsJSON is the "options" member of an EnqueueWithOptions call;
// it maps onto work.EnqueueOptions. The call's key_map becomes
// EnqueueOptions.UniqueKey.
type enqueueOptionsJSON struct {
	DelaySeconds float64           `json:"delay_seconds"`
	Retry        *retryOptionsJSON `json:"retry"`
	Unique       bool              `json:"unique"`
}

func parseStrategy(raw json.RawMessage) (work.BackoffStrategy, error) {
	if isJSONNull(raw) {
		return work.BackoffExponential, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return work.BackoffStrategy(n), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("strategy %s is neither an integer nor a name", raw)
	}
	switch strings.ToLower(s) {
	case "exponential":
		return work.BackoffExponential, nil
	case "linear":
		return work.BackoffLinear, nil
	case "fixed":
		return work.BackoffFixed, nil
	}
	return 0, fmt.Errorf("unknown strategy %q", s)
}

// validateCallExtra parses the options of an EnqueueWithOptions call into a
// work.EnqueueOptions kept in c.extra.
func validateCallExtra(c *enqueueCall) error {
	if c.Call != "EnqueueWithOptions" {
		return nil
	}
	var oj enqueueOptionsJSON
	if !isJSONNull(c.Options) {
		dec := json.NewDecoder(bytes.NewReader(c.Options))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&oj); err != nil {
			return fmt.Errorf("options: %w", err)
		}
	}
	opts := work.EnqueueOptions{
		Delay:     time.Duration(oj.DelaySeconds * float64(time.Second)),
		Unique:    oj.Unique,
		UniqueKey: c.keyMap,
	}
	if oj.Retry != nil {
		strategy, err := parseStrategy(oj.Retry.Strategy)
		if err != nil {
			return fmt.Errorf("options.retry: %w", err)
		}
		opts.Retry = &work.RetryOptions{
			MaxRetries: oj.Retry.MaxRetries,
			Strategy:   strategy,
			BaseDelay:  oj.Retry.BaseDelay,
		}
	}
	c.extra = opts
	return nil
}

// enqueueExtra performs the enqueue calls that main.go does not handle
// itself: EnqueueUniqueByKey, EnqueueUniqueInByKey and EnqueueWithOptions.
func enqueueExtra(e *work.Enqueuer, c *enqueueCall) (interface{}, error) {
	switch c.Call {
	case "EnqueueUniqueByKey":
		return e.EnqueueUniqueByKey(c.JobName, c.args, c.keyMap)
	case "EnqueueUniqueInByKey":
		return e.EnqueueUniqueInByKey(c.JobName, c.SecondsFromNow, c.args, c.keyMap)
	case "EnqueueWithOptions":
		opts, _ := c.extra.(work.EnqueueOptions)
		return e.EnqueueWithOptions(c.JobName, c.args, opts)
	}
	return nil, fmt.Errorf("unknown call %q", c.Call)
}

// jobUniqueKey returns the job's unique key as the library sees it.
func jobUniqueKey(j *work.Job) interface{} {
	return j.UniqueKey
}

// listExtra adds the fork's job history to "driver list".
func listExtra(c *work.Client, page uint, jobName string, out map[string]interface{}) {
	if v, n, err := c.HistoryJobs(page, jobName); err != nil {
		out["history"] = errorObject{err.Error()}
	} else {
		out["history"] = pageOf{v, n}
	}
	if n, err := c.HistoryCount(); err != nil {
		out["history_count"] = errorObject{err.Error()}
	} else {
		out["history_count"] = n
	}
}

// historyView is one page of HistoryJobs, HistoryCount, and HistoryJobByID for a non-empty id.
func historyView(c *work.Client, page uint, jobName, id string) (interface{}, error) {
	jobs, count, err := c.HistoryJobs(page, jobName)
	if err != nil {
		return nil, err
	}
	total, err := c.HistoryCount()
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{"jobs": jobs, "count": count, "total": total}
	if id != "" {
		if hj, err := c.HistoryJobByID(id); err != nil {
			out["by_id"] = errorObject{err.Error()}
		} else {
			out["by_id"] = hj
		}
	}
	return out, nil
}

// scheduleOp calls the fork's Client schedule API: add returns the stored
// schedule, list all schedules, the others nothing.
func scheduleOp(c *work.Client, in scheduleInput) (interface{}, error) {
	switch in.op {
	case "add":
		s := &work.PeriodicSchedule{Name: in.name, JobName: in.jobName, Spec: in.spec, Args: in.args, Enabled: in.enabled}
		return s, c.AddPeriodicSchedule(s)
	case "delete":
		return nil, c.DeletePeriodicSchedule(in.name)
	case "enable":
		return nil, c.EnablePeriodicSchedule(in.name)
	case "disable":
		return nil, c.DisablePeriodicSchedule(in.name)
	case "list":
		return c.PeriodicSchedules()
	}
	return nil, fmt.Errorf("unknown op %q", in.op)
}

// periodicallyEnqueueWithArgs registers a periodic job whose instances carry args.
func periodicallyEnqueueWithArgs(wp *work.WorkerPool, spec, name string, args map[string]interface{}) error {
	wp.PeriodicallyEnqueueWithArgs(spec, name, args)
	return nil
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
