// Command cron prints the instants robfig/cron v3.0.1 computes for cron specs, parsed as gocraft/work
// master and the LarnTechKe fork parse them (seconds optional, descriptors allowed).
//
// Stdin: a JSON array of {"spec": "...", "from": <epoch second>, "count": N}.
// Stdout: a JSON array with, for each input in order, {"error": "..."} when the parser refuses the
// spec (a parser panic is reported as an error too), or {"next": [epoch, ...]}: Next applied count
// times, starting from time.Unix(from, 0). That start is in the process's local zone, so the TZ
// environment variable matters exactly as it does in a Go worker pool. When Next returns the zero
// time (nothing within robfig's 5-year search), its Unix value -62135596800 is the last element.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/robfig/cron/v3"
)

type request struct {
	Spec  string `json:"spec"`
	From  int64  `json:"from"`
	Count int    `json:"count"`
}

type result struct {
	Error *string `json:"error,omitempty"`
	Next  []int64 `json:"next,omitempty"`
}

// The parser gocraft/work master builds in its periodic enqueuer.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func parse(spec string) (schedule cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return parser.Parse(spec)
}

func run(req request) result {
	schedule, err := parse(req.Spec)
	if err != nil {
		text := err.Error()
		return result{Error: &text}
	}
	next := make([]int64, 0, req.Count)
	t := time.Unix(req.From, 0)
	for i := 0; i < req.Count; i++ {
		t = schedule.Next(t)
		next = append(next, t.Unix())
		if t.IsZero() {
			break
		}
	}
	return result{Next: next}
}

func main() {
	var reqs []request
	if err := json.NewDecoder(os.Stdin).Decode(&reqs); err != nil {
		fmt.Fprintf(os.Stderr, "cron: reading stdin: %v\n", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(reqs))
	for _, req := range reqs {
		results = append(results, run(req))
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintf(os.Stderr, "cron: writing stdout: %v\n", err)
		os.Exit(1)
	}
}
