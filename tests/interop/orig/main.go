// Command driver is a small test driver for the work-compat interop tests.
// It drives a Go implementation of the gocraft/work protocol against a real
// Redis so that its behaviour can be compared with the Python implementation.
//
// Every subcommand prints exactly one JSON document on stdout; diagnostics go
// to stderr. See ../README.md for the CLI.
//
// This one file serves both modules (tests/interop/fork/main.go links to it);
// the library-specific parts, the import of the work package included, live in
// each module's compat.go.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
)

// realStdout is where the JSON document goes. os.Stdout is pointed at stderr
// in main because the library writes its error log lines with fmt.Printf.
var realStdout = os.Stdout

const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitTimeout = 3
)

func main() {
	os.Stdout = os.Stderr

	if len(os.Args) < 2 {
		usage()
		os.Exit(exitUsage)
	}
	cmd, rest := os.Args[1], os.Args[2:]
	var code int
	switch cmd {
	case "enqueue":
		code = cmdEnqueue(rest)
	case "work":
		code = cmdWork(rest)
	case "list":
		code = cmdList(rest)
	case "client":
		code = cmdClient(rest)
	case "history":
		code = cmdHistory(rest)
	case "schedule":
		code = cmdSchedule(rest)
	case "version":
		code = emit(map[string]interface{}{"library": libraryName})
	case "help", "-h", "-help", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "driver: unknown subcommand %q\n", cmd)
		usage()
		code = exitUsage
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: driver <subcommand> [flags]

subcommands:
  enqueue  -redis URL -ns NS                 (JSON array of calls on stdin)
  work     -redis URL -ns NS -jobs a,b ...   (run a worker pool, record job runs)
  list     -redis URL -ns NS [-page P]       (dump Client views)
  client   -redis URL -ns NS -op OP [-score N] [-id X]
  history  -redis URL -ns NS [-page P] [-job-name J] [-id X]   (fork: job history)
  schedule -redis URL -ns NS -op OP [-name N ...]   (fork: runtime periodic schedules)
  version                                    (which library this driver uses)

run "driver <subcommand> -h" for the flags of a subcommand
`)
}

// ---------------------------------------------------------------------------
// helpers

type commonOpts struct {
	redisURL  string
	namespace string
}

func newFlagSet(name string) (*flag.FlagSet, *commonOpts) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	co := &commonOpts{}
	fs.StringVar(&co.redisURL, "redis", "redis://127.0.0.1:6379/0", "redis:// URL of the server")
	fs.StringVar(&co.namespace, "ns", "", "work namespace")
	return fs, co
}

func parseFlags(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "driver %s: unexpected arguments: %q\n", fs.Name(), fs.Args())
		return false
	}
	return true
}

func newRedisPool(url string) (*redis.Pool, error) {
	p := &redis.Pool{
		MaxIdle:     16,
		IdleTimeout: 240 * time.Second,
		Dial: func() (redis.Conn, error) {
			return redis.DialURL(url)
		},
	}
	conn := p.Get()
	defer conn.Close()
	if _, err := conn.Do("PING"); err != nil {
		p.Close()
		return nil, fmt.Errorf("cannot reach redis at %s: %w", url, err)
	}
	return p, nil
}

// namespacePrefix applies the gocraft/work key prefix rule: namespace + ":"
// unless the namespace is empty or already ends in ":".
func namespacePrefix(ns string) string {
	if ns != "" && !strings.HasSuffix(ns, ":") {
		return ns + ":"
	}
	return ns
}

func emit(v interface{}) int {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "driver: cannot encode output: %v\n", err)
		return exitError
	}
	b = append(b, '\n')
	if _, err := realStdout.Write(b); err != nil {
		fmt.Fprintf(os.Stderr, "driver: cannot write output: %v\n", err)
		return exitError
	}
	return exitOK
}

func failf(format string, a ...interface{}) int {
	fmt.Fprintf(os.Stderr, "driver: "+format+"\n", a...)
	return exitError
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// marshalRaw returns the library's own encoding/json rendering of v.
func marshalRaw(v interface{}) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

func isJSONNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// decodeArgMap decodes a JSON object into map[string]interface{} the way
// encoding/json does (numbers become float64), except that the top-level keys
// listed in intKeys are converted to exact Go int64 values. A JSON null (or a
// missing value) gives a nil map.
func decodeArgMap(raw json.RawMessage, intKeys []string) (map[string]interface{}, error) {
	if isJSONNull(raw) {
		if len(intKeys) > 0 {
			return nil, fmt.Errorf("integer keys %q given but the map is null", intKeys)
		}
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	wantInt := make(map[string]bool, len(intKeys))
	for _, k := range intKeys {
		if _, ok := fields[k]; !ok {
			return nil, fmt.Errorf("integer key %q is not in the map", k)
		}
		wantInt[k] = true
	}
	out := make(map[string]interface{}, len(fields))
	for k, v := range fields {
		if wantInt[k] {
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			var x interface{}
			if err := dec.Decode(&x); err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			num, ok := x.(json.Number)
			if !ok {
				return nil, fmt.Errorf("key %q: %s is not a number", k, v)
			}
			n, err := strconv.ParseInt(num.String(), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("key %q: %s is not an int64", k, v)
			}
			out[k] = n
			continue
		}
		var x interface{}
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = x
	}
	return out, nil
}

// parseNameList parses "a,b,c" (empty items dropped).
func parseNameList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseNameValues parses "name=value,name2=value2".
func parseNameValues(flagName, s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range parseNameList(s) {
		i := strings.IndexByte(part, '=')
		if i <= 0 {
			return nil, fmt.Errorf("-%s: %q is not name=value", flagName, part)
		}
		out[part[:i]] = part[i+1:]
	}
	return out, nil
}

func parseNameUints(flagName, s string) (map[string]uint, error) {
	raw, err := parseNameValues(flagName, s)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint, len(raw))
	for k, v := range raw {
		n, err := strconv.ParseUint(v, 10, 0)
		if err != nil {
			return nil, fmt.Errorf("-%s: %s=%q is not an unsigned integer", flagName, k, v)
		}
		out[k] = uint(n)
	}
	return out, nil
}

func parseNameInts(flagName, s string) (map[string]int64, error) {
	raw, err := parseNameValues(flagName, s)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(raw))
	for k, v := range raw {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("-%s: %s=%q is not an integer", flagName, k, v)
		}
		out[k] = n
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// enqueue

// enqueueCall is one element of the JSON array read by "driver enqueue".
type enqueueCall struct {
	Call           string          `json:"call"`
	JobName        string          `json:"job_name"`
	Args           json.RawMessage `json:"args"`
	SecondsFromNow int64           `json:"seconds_from_now"`
	KeyMap         json.RawMessage `json:"key_map"`
	Options        json.RawMessage `json:"options"`
	IntArgs        []string        `json:"int_args"`
	IntKeyMap      []string        `json:"int_key_map"`

	args   map[string]interface{}
	keyMap map[string]interface{}
	extra  interface{} // set by validateCallExtra (compat.go), e.g. parsed options
}

type enqueueResult struct {
	Returned json.RawMessage `json:"returned"`
	Error    string          `json:"error"`
}

var knownCalls = map[string]bool{
	"Enqueue":              true,
	"EnqueueIn":            true,
	"EnqueueUnique":        true,
	"EnqueueUniqueIn":      true,
	"EnqueueUniqueByKey":   true,
	"EnqueueUniqueInByKey": true,
	"EnqueueWithOptions":   true,
}

func cmdEnqueue(argv []string) int {
	fs, co := newFlagSet("enqueue")
	if !parseFlags(fs, argv) {
		return exitUsage
	}

	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		return failf("enqueue: reading stdin: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.DisallowUnknownFields()
	var calls []*enqueueCall
	if err := dec.Decode(&calls); err != nil {
		return failf("enqueue: stdin is not a JSON array of calls: %v", err)
	}

	// Validate everything before touching Redis.
	for i, c := range calls {
		if c == nil {
			return failf("enqueue: call #%d is null", i)
		}
		if !knownCalls[c.Call] {
			return failf("enqueue: call #%d: unknown call %q", i, c.Call)
		}
		if c.args, err = decodeArgMap(c.Args, c.IntArgs); err != nil {
			return failf("enqueue: call #%d: args: %v", i, err)
		}
		if c.keyMap, err = decodeArgMap(c.KeyMap, c.IntKeyMap); err != nil {
			return failf("enqueue: call #%d: key_map: %v", i, err)
		}
		if err := validateCallExtra(c); err != nil {
			return failf("enqueue: call #%d: %v", i, err)
		}
	}

	pool, err := newRedisPool(co.redisURL)
	if err != nil {
		return failf("enqueue: %v", err)
	}
	defer pool.Close()
	enq := NewEnqueuer(co.namespace, pool)

	results := make([]enqueueResult, 0, len(calls))
	for _, c := range calls {
		var ret interface{}
		var callErr error
		switch c.Call {
		case "Enqueue":
			ret, callErr = enq.Enqueue(c.JobName, c.args)
		case "EnqueueIn":
			ret, callErr = enq.EnqueueIn(c.JobName, c.SecondsFromNow, c.args)
		case "EnqueueUnique":
			ret, callErr = enq.EnqueueUnique(c.JobName, c.args)
		case "EnqueueUniqueIn":
			ret, callErr = enq.EnqueueUniqueIn(c.JobName, c.SecondsFromNow, c.args)
		default:
			ret, callErr = enqueueExtra(enq, c)
		}
		raw, err := marshalRaw(ret) // a nil *Job / *ScheduledJob marshals as null
		if err != nil {
			return failf("enqueue: cannot marshal the returned value of %s: %v", c.Call, err)
		}
		results = append(results, enqueueResult{Returned: raw, Error: errText(callErr)})
	}
	return emit(results)
}

// ---------------------------------------------------------------------------
// work

// Context is the (empty) worker pool context type.
type Context struct{}

type getterResult struct {
	Value interface{} `json:"value"`
	Error string      `json:"error"`
}

type runRecord struct {
	Name         string                  `json:"name"`
	ID           string                  `json:"id"`
	T            int64                   `json:"t"`
	Fails        int64                   `json:"fails"`
	Args         json.RawMessage         `json:"args"`
	Unique       bool                    `json:"unique"`
	UniqueKey    interface{}             `json:"unique_key"`
	Getters      map[string]getterResult `json:"getters"`
	Result       string                  `json:"result"`
	Error        string                  `json:"error"`
	WorkerPoolID interface{}             `json:"worker_pool_id"`
	Job          json.RawMessage         `json:"job"`
	StartedAtMs  int64                   `json:"started_at_ms"`
	Inflight     int                     `json:"inflight"`
}

type collector struct {
	mu       sync.Mutex
	records  []*runRecord
	inflight map[string]int
	want     int
	done     chan struct{}
	closed   bool
}

func newCollector(want int) *collector {
	return &collector{inflight: map[string]int{}, want: want, done: make(chan struct{})}
}

func (c *collector) enter(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight[name]++
	return c.inflight[name]
}

func (c *collector) leave(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight[name]--
}

func (c *collector) add(r *runRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
	if c.want > 0 && len(c.records) >= c.want && !c.closed {
		c.closed = true
		close(c.done)
	}
}

func (c *collector) snapshot(poolID interface{}) []*runRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*runRecord, len(c.records))
	for i, r := range c.records {
		cp := *r
		cp.WorkerPoolID = poolID
		out[i] = &cp
	}
	return out
}

// callGetters calls every typed getter for every arg key, each on a fresh
// *Job holding the same Args so that ArgError reflects only that call.
func callGetters(args map[string]interface{}) map[string]getterResult {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]getterResult, 4*len(keys))
	for _, k := range keys {
		j := &Job{Args: args}
		s := j.ArgString(k)
		out["ArgString("+k+")"] = getterResult{s, errText(j.ArgError())}

		j = &Job{Args: args}
		i := j.ArgInt64(k)
		out["ArgInt64("+k+")"] = getterResult{i, errText(j.ArgError())}

		j = &Job{Args: args}
		f := j.ArgFloat64(k)
		out["ArgFloat64("+k+")"] = getterResult{f, errText(j.ArgError())}

		j = &Job{Args: args}
		b := j.ArgBool(k)
		out["ArgBool("+k+")"] = getterResult{b, errText(j.ArgError())}
	}
	return out
}

type workConfig struct {
	jobs          []string
	concurrency   uint
	expect        int
	timeout       time.Duration
	hold          time.Duration
	untilEmpty    bool
	noStop        bool
	fail          map[string]bool
	skipDead      map[string]bool
	maxFails      map[string]uint
	priority      map[string]uint
	maxConc       map[string]uint
	sleep         map[string]time.Duration
	checkin       map[string]string
	backoffFixed  map[string]int64
	periodic      []periodicJob
	periodicArgs  map[string]map[string]interface{}
	sleepBackoffs []int64
}

// periodicJob is one item of -periodic: PeriodicallyEnqueue(spec, name).
type periodicJob struct {
	spec string
	name string
}

// parsePeriodic parses -periodic "spec=name,spec2=name2". A spec may hold commas
// ("0,30 * * * * *=a"): an item runs up to the comma after a name, and splits at
// its last "=" (job names hold neither "=" nor ",").
func parsePeriodic(s string) ([]periodicJob, error) {
	var out []periodicJob
	item := ""
	for _, part := range strings.Split(s, ",") {
		if item != "" {
			item += ","
		}
		item += part
		i := strings.LastIndexByte(item, '=')
		if i < 0 {
			continue // a comma inside the spec: the name comes later
		}
		spec, name := strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
		if spec == "" || name == "" {
			return nil, fmt.Errorf("-periodic: %q is not spec=name", item)
		}
		out = append(out, periodicJob{spec: spec, name: name})
		item = ""
	}
	if strings.TrimSpace(item) != "" {
		return nil, fmt.Errorf("-periodic: %q is not spec=name", item)
	}
	return out, nil
}

func parseWorkFlags(argv []string) (*commonOpts, *workConfig, int) {
	fs, co := newFlagSet("work")
	jobs := fs.String("jobs", "", "comma-separated job names to register (required)")
	concurrency := fs.Uint("concurrency", 4, "worker pool concurrency")
	expect := fs.Int("expect", 0, "stop after this many handler runs were recorded (0: see -hold-seconds)")
	timeout := fs.Float64("timeout", 30, "seconds to wait for -expect runs before giving up (exit 3)")
	hold := fs.Float64("hold-seconds", 0, "with -expect 0: run the pool this many seconds, then stop")
	untilEmpty := fs.Bool("until-empty", false, "with -expect 0: call Drain every 50 ms until the queues of -jobs are empty, then stop (bounded by -timeout)")
	noStop := fs.Bool("no-stop", false, "exit abruptly after collection, without Drain/Stop (simulated crash)")
	fail := fs.String("fail", "", "comma-separated job names whose handler returns an error")
	skipDead := fs.String("skip-dead", "", "comma-separated job names registered with SkipDead")
	maxFails := fs.String("maxfails", "", "name=N,... JobOptions.MaxFails")
	priority := fs.String("priority", "", "name=N,... JobOptions.Priority")
	maxConc := fs.String("maxconc", "", "name=N,... JobOptions.MaxConcurrency")
	sleepMs := fs.String("sleep-ms", "", "name=MS,... handler run time in milliseconds")
	checkin := fs.String("checkin", "", "name=msg,... call job.Checkin(msg) at the start of the handler")
	backoffFixed := fs.String("backoff-fixed", "", "name=SECONDS,... constant-seconds custom Backoff")
	periodic := fs.String("periodic", "", "spec=name,... PeriodicallyEnqueue(spec, name) on the pool (specs may hold commas)")
	sleepBackoffs := fs.String("sleep-backoffs", "", "comma-separated milliseconds an idle worker sleeps after 1, 2, ... empty fetches (WorkerPoolOptions.SleepBackoffs; default the library's)")
	periodicArgs := fs.String("periodic-args", "", `JSON {"name": {args}}: the -periodic jobs of these names get args (fork: PeriodicallyEnqueueWithArgs)`)
	if !parseFlags(fs, argv) {
		return nil, nil, exitUsage
	}

	cfg := &workConfig{
		jobs:        parseNameList(*jobs),
		concurrency: *concurrency,
		expect:      *expect,
		timeout:     time.Duration(*timeout * float64(time.Second)),
		hold:        time.Duration(*hold * float64(time.Second)),
		untilEmpty:  *untilEmpty,
		noStop:      *noStop,
		fail:        map[string]bool{},
		skipDead:    map[string]bool{},
		sleep:       map[string]time.Duration{},
	}
	bad := func(err error) (*commonOpts, *workConfig, int) {
		fmt.Fprintf(os.Stderr, "driver work: %v\n", err)
		return nil, nil, exitUsage
	}
	if len(cfg.jobs) == 0 {
		return bad(errors.New("-jobs is required"))
	}
	if cfg.expect < 0 {
		return bad(errors.New("-expect must be >= 0"))
	}
	if cfg.untilEmpty && (cfg.expect > 0 || cfg.hold > 0) {
		return bad(errors.New("-until-empty goes with -expect 0 and no -hold-seconds"))
	}
	registered := map[string]bool{}
	for _, n := range cfg.jobs {
		registered[n] = true
	}
	checkNames := func(flagName string, names []string) error {
		for _, n := range names {
			if !registered[n] {
				return fmt.Errorf("-%s names %q, which is not in -jobs", flagName, n)
			}
		}
		return nil
	}
	for _, n := range parseNameList(*fail) {
		cfg.fail[n] = true
	}
	for _, n := range parseNameList(*skipDead) {
		cfg.skipDead[n] = true
	}
	var err error
	if cfg.maxFails, err = parseNameUints("maxfails", *maxFails); err != nil {
		return bad(err)
	}
	if cfg.priority, err = parseNameUints("priority", *priority); err != nil {
		return bad(err)
	}
	if cfg.maxConc, err = parseNameUints("maxconc", *maxConc); err != nil {
		return bad(err)
	}
	if cfg.checkin, err = parseNameValues("checkin", *checkin); err != nil {
		return bad(err)
	}
	if cfg.backoffFixed, err = parseNameInts("backoff-fixed", *backoffFixed); err != nil {
		return bad(err)
	}
	if cfg.periodic, err = parsePeriodic(*periodic); err != nil {
		return bad(err)
	}
	for _, ms := range parseNameList(*sleepBackoffs) {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil || n < 0 {
			return bad(fmt.Errorf("-sleep-backoffs: %q is not a number of milliseconds", ms))
		}
		cfg.sleepBackoffs = append(cfg.sleepBackoffs, n)
	}
	if *periodicArgs != "" {
		if err := json.Unmarshal([]byte(*periodicArgs), &cfg.periodicArgs); err != nil {
			return bad(fmt.Errorf("-periodic-args: %v", err))
		}
		for name := range cfg.periodicArgs {
			found := false
			for _, p := range cfg.periodic {
				found = found || p.name == name
			}
			if !found {
				return bad(fmt.Errorf("-periodic-args names %q, which no -periodic item enqueues", name))
			}
		}
	}
	sleeps, err := parseNameInts("sleep-ms", *sleepMs)
	if err != nil {
		return bad(err)
	}
	for k, v := range sleeps {
		cfg.sleep[k] = time.Duration(v) * time.Millisecond
	}

	type nameSet struct {
		flag  string
		names []string
	}
	sets := []nameSet{
		{"fail", keysOf(cfg.fail)}, {"skip-dead", keysOf(cfg.skipDead)},
		{"maxfails", keysOf(cfg.maxFails)}, {"priority", keysOf(cfg.priority)},
		{"maxconc", keysOf(cfg.maxConc)}, {"checkin", keysOf(cfg.checkin)},
		{"backoff-fixed", keysOf(cfg.backoffFixed)}, {"sleep-ms", keysOf(cfg.sleep)},
	}
	for _, s := range sets {
		if err := checkNames(s.flag, s.names); err != nil {
			return bad(err)
		}
	}
	return co, cfg, exitOK
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (cfg *workConfig) handler(col *collector) func(*Job) error {
	return func(j *Job) error {
		start := time.Now()
		n := col.enter(j.Name)
		defer col.leave(j.Name)

		argsRaw, err := marshalRaw(j.Args)
		if err != nil {
			argsRaw = json.RawMessage("null")
		}
		// The library mutates the job after the handler returns (fails,
		// err, failed_at), so snapshot its JSON now.
		jobRaw, err := marshalRaw(j)
		if err != nil {
			jobRaw = json.RawMessage("null")
		}
		rec := &runRecord{
			Name:        j.Name,
			ID:          j.ID,
			T:           j.EnqueuedAt,
			Fails:       j.Fails,
			Args:        argsRaw,
			Unique:      j.Unique,
			UniqueKey:   jobUniqueKey(j),
			Getters:     callGetters(j.Args),
			Result:      "ok",
			Job:         jobRaw,
			StartedAtMs: start.UnixMilli(),
			Inflight:    n,
		}
		var runErr error
		if cfg.fail[j.Name] {
			runErr = fmt.Errorf("%s: deliberate failure #%d", j.Name, j.Fails+1)
			rec.Result = "error"
			rec.Error = runErr.Error()
		}
		if msg, ok := cfg.checkin[j.Name]; ok {
			j.Checkin(msg)
		}
		col.add(rec)
		if d := cfg.sleep[j.Name]; d > 0 {
			time.Sleep(time.Until(start.Add(d)))
		}
		return runErr
	}
}

func poolMembers(pool *redis.Pool, ns string) (map[string]bool, error) {
	conn := pool.Get()
	defer conn.Close()
	ids, err := redis.Strings(conn.Do("SMEMBERS", namespacePrefix(ns)+"worker_pools"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// findPoolID finds the id of the pool this process started: the library does
// not export it, so look for a new member of <prefix>worker_pools whose
// heartbeat carries our pid.
func findPoolID(pool *redis.Pool, ns string, before map[string]bool, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	pid := strconv.Itoa(os.Getpid())
	for {
		members, err := poolMembers(pool, ns)
		if err != nil {
			return "", err
		}
		for id := range members {
			if before[id] {
				continue
			}
			conn := pool.Get()
			p, err := redis.String(conn.Do("HGET", namespacePrefix(ns)+"worker_pools:"+id, "pid"))
			conn.Close()
			if err == nil && p == pid {
				return id, nil
			}
		}
		if time.Now().After(deadline) {
			return "", errors.New("no heartbeat from this process appeared in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drainUntilEmpty calls Drain (which also wakes idle workers at once) every
// 50 ms until the queues of jobs are empty; other pools may be taking jobs
// from them too. It reports false when timeout passes first.
func drainUntilEmpty(wp interface{ Drain() }, pool *redis.Pool, ns string, jobs []string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		drained := make(chan struct{})
		go func() { wp.Drain(); close(drained) }()
		select {
		case <-drained:
		case <-deadline:
			return false
		}
		conn := pool.Get()
		left := 0
		for _, name := range jobs {
			n, err := redis.Int(conn.Do("LLEN", namespacePrefix(ns)+"jobs:"+name))
			if err != nil {
				fmt.Fprintf(os.Stderr, "driver work: LLEN: %v\n", err)
				n = 1
			}
			left += n
		}
		conn.Close()
		if left == 0 {
			return true
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return false
		}
	}
}

type workOutput struct {
	Records   []*runRecord `json:"records"`
	Count     int          `json:"count"`
	PoolID    interface{}  `json:"pool_id"`
	StartedAt int64        `json:"started_at"`
	TimedOut  bool         `json:"timed_out"`
	Stopped   bool         `json:"stopped"`
}

func cmdWork(argv []string) int {
	co, cfg, code := parseWorkFlags(argv)
	if code != exitOK {
		return code
	}
	pool, err := newRedisPool(co.redisURL)
	if err != nil {
		return failf("work: %v", err)
	}
	defer pool.Close()

	col := newCollector(cfg.expect)
	wp := NewWorkerPoolWithOptions(Context{}, cfg.concurrency, co.namespace, pool, WorkerPoolOptions{SleepBackoffs: cfg.sleepBackoffs})
	h := cfg.handler(col)
	for _, name := range cfg.jobs {
		opts := JobOptions{
			Priority:       cfg.priority[name],
			MaxFails:       cfg.maxFails[name],
			SkipDead:       cfg.skipDead[name],
			MaxConcurrency: cfg.maxConc[name],
		}
		if secs, ok := cfg.backoffFixed[name]; ok {
			opts.Backoff = func(*Job) int64 { return secs }
		}
		wp.JobWithOptions(name, opts, h)
	}
	for _, p := range cfg.periodic {
		// The library panics on a spec its cron parser refuses: report it as bad usage.
		if err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("%v", r)
				}
			}()
			if args, ok := cfg.periodicArgs[p.name]; ok {
				return periodicallyEnqueueWithArgs(wp, p.spec, p.name, args)
			}
			wp.PeriodicallyEnqueue(p.spec, p.name)
			return nil
		}(); err != nil {
			fmt.Fprintf(os.Stderr, "driver work: -periodic %q=%q: %v\n", p.spec, p.name, err)
			return exitUsage
		}
	}

	before, err := poolMembers(pool, co.namespace)
	if err != nil {
		return failf("work: SMEMBERS worker_pools: %v", err)
	}
	startedAt := time.Now().Unix()
	wp.Start()

	var poolID interface{}
	if id, err := findPoolID(pool, co.namespace, before, 5*time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "driver work: cannot determine the worker pool id: %v\n", err)
	} else {
		poolID = id
	}

	timedOut := false
	if cfg.expect > 0 {
		select {
		case <-col.done:
		case <-time.After(cfg.timeout):
			timedOut = true
			fmt.Fprintf(os.Stderr, "driver work: timed out after %s waiting for %d runs\n", cfg.timeout, cfg.expect)
		}
	} else if cfg.untilEmpty {
		if timedOut = !drainUntilEmpty(wp, pool, co.namespace, cfg.jobs, cfg.timeout); timedOut {
			fmt.Fprintf(os.Stderr, "driver work: timed out after %s waiting for empty queues\n", cfg.timeout)
		}
	} else if cfg.hold > 0 {
		time.Sleep(cfg.hold)
	}

	out := workOutput{PoolID: poolID, StartedAt: startedAt, TimedOut: timedOut}
	exit := exitOK
	if timedOut {
		exit = exitTimeout
	}
	if cfg.noStop {
		out.Records = col.snapshot(poolID)
		out.Count = len(out.Records)
		if c := emit(out); c != exitOK {
			exit = c
		}
		os.Exit(exit) // abrupt: no Drain/Stop, the heartbeat stays behind
	}

	if cfg.expect > 0 && !timedOut {
		wp.Drain()
	}
	wp.Stop()
	out.Stopped = true
	out.Records = col.snapshot(poolID)
	out.Count = len(out.Records)
	if c := emit(out); c != exitOK {
		return c
	}
	return exit
}

// ---------------------------------------------------------------------------
// list

type errorObject struct {
	Error string `json:"error"`
}

type pageOf struct {
	Jobs  interface{} `json:"jobs"`
	Count int64       `json:"count"`
}

func cmdList(argv []string) int {
	fs, co := newFlagSet("list")
	page := fs.Uint("page", 1, "1-based page for the scheduled/retry/dead (and history) views")
	jobName := fs.String("job-name", "", "job name filter for views that take one (fork: history)")
	if !parseFlags(fs, argv) {
		return exitUsage
	}
	pool, err := newRedisPool(co.redisURL)
	if err != nil {
		return failf("list: %v", err)
	}
	defer pool.Close()
	c := NewClient(co.namespace, pool)

	out := map[string]interface{}{}
	if v, err := c.Queues(); err != nil {
		out["queues"] = errorObject{err.Error()}
	} else {
		out["queues"] = v
	}
	if v, n, err := c.ScheduledJobs(*page); err != nil {
		out["scheduled"] = errorObject{err.Error()}
	} else {
		out["scheduled"] = pageOf{v, n}
	}
	if v, n, err := c.RetryJobs(*page); err != nil {
		out["retry"] = errorObject{err.Error()}
	} else {
		out["retry"] = pageOf{v, n}
	}
	if v, n, err := c.DeadJobs(*page); err != nil {
		out["dead"] = errorObject{err.Error()}
	} else {
		out["dead"] = pageOf{v, n}
	}
	if v, err := c.WorkerPoolHeartbeats(); err != nil {
		out["worker_pool_heartbeats"] = errorObject{err.Error()}
	} else {
		out["worker_pool_heartbeats"] = v
	}
	if v, err := c.WorkerObservations(); err != nil {
		out["worker_observations"] = errorObject{err.Error()}
	} else {
		out["worker_observations"] = v
	}
	listExtra(c, *page, *jobName, out)
	return emit(out)
}

// ---------------------------------------------------------------------------
// client

func cmdClient(argv []string) int {
	fs, co := newFlagSet("client")
	op := fs.String("op", "", "delete_dead_job|retry_dead_job|retry_all_dead_jobs|delete_all_dead_jobs|delete_scheduled_job|delete_retry_job")
	score := fs.Int64("score", 0, "zset score (died_at / run_at / retry_at)")
	id := fs.String("id", "", "job id")
	if !parseFlags(fs, argv) {
		return exitUsage
	}
	var call func(*Client) error
	switch *op {
	case "delete_dead_job":
		call = func(c *Client) error { return c.DeleteDeadJob(*score, *id) }
	case "retry_dead_job":
		call = func(c *Client) error { return c.RetryDeadJob(*score, *id) }
	case "retry_all_dead_jobs":
		call = func(c *Client) error { return c.RetryAllDeadJobs() }
	case "delete_all_dead_jobs":
		call = func(c *Client) error { return c.DeleteAllDeadJobs() }
	case "delete_scheduled_job":
		call = func(c *Client) error { return c.DeleteScheduledJob(*score, *id) }
	case "delete_retry_job":
		call = func(c *Client) error { return c.DeleteRetryJob(*score, *id) }
	default:
		fmt.Fprintf(os.Stderr, "driver client: unknown -op %q\n", *op)
		return exitUsage
	}
	pool, err := newRedisPool(co.redisURL)
	if err != nil {
		return failf("client: %v", err)
	}
	defer pool.Close()
	return emit(errorObject{errText(call(NewClient(co.namespace, pool)))})
}

// ---------------------------------------------------------------------------
// history (fork)

func cmdHistory(argv []string) int {
	fs, co := newFlagSet("history")
	page := fs.Uint("page", 1, "1-based page of HistoryJobs")
	jobName := fs.String("job-name", "", "HistoryJobs job name filter")
	id := fs.String("id", "", "also look this job id up with HistoryJobByID")
	if !parseFlags(fs, argv) {
		return exitUsage
	}
	pool, err := newRedisPool(co.redisURL)
	if err != nil {
		return failf("history: %v", err)
	}
	defer pool.Close()
	out, err := historyView(NewClient(co.namespace, pool), *page, *jobName, *id)
	if errors.Is(err, errUnsupported) {
		fmt.Fprintf(os.Stderr, "driver history: %s has no job history\n", libraryName)
		return exitUsage
	}
	if err != nil {
		return failf("history: %v", err)
	}
	return emit(out)
}

// ---------------------------------------------------------------------------
// schedule (fork)

// scheduleInput is what "driver schedule" passes to the library's schedule API.
type scheduleInput struct {
	op      string
	name    string
	jobName string
	spec    string
	args    map[string]interface{}
	enabled bool
}

func cmdSchedule(argv []string) int {
	fs, co := newFlagSet("schedule")
	op := fs.String("op", "", "add|delete|enable|disable|list")
	name := fs.String("name", "", "schedule name")
	jobName := fs.String("job-name", "", "add: the job it enqueues")
	spec := fs.String("spec", "", "add: cron spec")
	args := fs.String("args", "", "add: JSON object of job args (numbers decode as float64)")
	enabled := fs.Bool("enabled", true, "add: whether the schedule is enabled")
	if !parseFlags(fs, argv) {
		return exitUsage
	}
	in := scheduleInput{op: *op, name: *name, jobName: *jobName, spec: *spec, enabled: *enabled}
	switch *op {
	case "list":
	case "add", "delete", "enable", "disable":
		if *name == "" {
			fmt.Fprintf(os.Stderr, "driver schedule: -op %s needs -name\n", *op)
			return exitUsage
		}
	default:
		fmt.Fprintf(os.Stderr, "driver schedule: unknown -op %q\n", *op)
		return exitUsage
	}
	if *args != "" {
		var err error
		if in.args, err = decodeArgMap(json.RawMessage(*args), nil); err != nil {
			fmt.Fprintf(os.Stderr, "driver schedule: -args: %v\n", err)
			return exitUsage
		}
	}
	pool, err := newRedisPool(co.redisURL)
	if err != nil {
		return failf("schedule: %v", err)
	}
	defer pool.Close()
	out, err := scheduleOp(NewClient(co.namespace, pool), in)
	if errors.Is(err, errUnsupported) {
		fmt.Fprintf(os.Stderr, "driver schedule: %s has no runtime schedules\n", libraryName)
		return exitUsage
	}
	return emit(map[string]interface{}{"result": out, "error": errText(err)})
}
