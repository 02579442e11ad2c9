// Command loadgen sends GraphQL load to a caregraph server on this machine and
// reports throughput and latency percentiles. See bench/README.md.
//
// It refuses any URL whose host is not a loopback address, and every run is
// bounded by a duration (-d) and a request count (-n).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	areasAtQuery    = `query AreasAt($lat: Float!, $lon: Float!) { areasAt(lat: $lat, lon: $lon) { kind code name } }`
	boundariesQuery = `{ boundaries(kind: INTEGRATED_CARE_BOARD, zoom: 6) }`

	maxConcurrency = 1024
	maxDuration    = time.Hour
	maxWarmup      = 5 * time.Minute

	// transportErrorPause is how long a worker waits after a failed connection
	// or request, so a stopped server is not hammered in a tight loop.
	transportErrorPause = 10 * time.Millisecond
)

type config struct {
	url         string
	getURL      string
	etag        string
	query       string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	maxRequests int64
	timeout     time.Duration
	gzip        bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if rep.requests > 0 && rep.errors() == rep.requests {
		os.Exit(2) // every request failed: wrong URL or server down
	}
}

const usageText = `Usage: go run ./bench/loadgen [flags]

Sends GraphQL POST requests from -c concurrent workers for -d (after an
unmeasured -warmup) to a caregraph server on this machine and reports requests,
errors, requests per second and latency p50/p90/p99/max.

  -query areasAt     areasAt(lat:, lon:) { kind code name } at real UK points,
                     round-robin (hospitals and city centres, 3 at sea)
  -query boundaries  { boundaries(kind: INTEGRATED_CARE_BOARD, zoom: 6) }
  -get URL           plain GETs of URL instead (e.g. /boundaries/...geojson),
                     with If-None-Match: -etag when given (304 counts as success)

Errors are transport failures, unexpected status codes (not 200; in -get mode
not 200 or 304) and GraphQL responses whose body contains "errors".
Safety: only loopback hosts (127.0.0.0/8, ::1, localhost) are accepted, and the
run stops at -d or after -n measured requests, whichever comes first.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.url, "url", "http://127.0.0.1:8080/graphql", "GraphQL `endpoint` to POST to (loopback only)")
	fs.StringVar(&cfg.getURL, "get", "", "GET this `URL` instead of POSTing GraphQL (loopback only)")
	fs.StringVar(&cfg.etag, "etag", "", "with -get: send If-None-Match: `etag` (quote it as the server does, e.g. '\"abc\"')")
	fs.StringVar(&cfg.query, "query", "areasAt", "GraphQL `query` to send: areasAt or boundaries")
	fs.IntVar(&cfg.concurrency, "c", 16, fmt.Sprintf("concurrent `workers` (1-%d)", maxConcurrency))
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "measured `duration` (at most "+maxDuration.String()+")")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up `duration` before -d (at most "+maxWarmup.String()+")")
	fs.Int64Var(&cfg.maxRequests, "n", 2_000_000, "stop after this many measured `requests`")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-request `timeout`")
	fs.BoolVar(&cfg.gzip, "gzip", true, "accept gzip-compressed responses (decompressed by the client, as browsers do)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q (see -h)", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case cfg.getURL != "" && (set["url"] || set["query"]):
		return cfg, errors.New("-get sends plain GETs: don't combine it with -url or -query")
	case cfg.etag != "" && cfg.getURL == "":
		return cfg, errors.New("-etag needs -get")
	case cfg.getURL == "" && cfg.query != "areasAt" && cfg.query != "boundaries":
		return cfg, fmt.Errorf("-query %q: want areasAt or boundaries", cfg.query)
	case cfg.concurrency < 1 || cfg.concurrency > maxConcurrency:
		return cfg, fmt.Errorf("-c %d: want 1 to %d", cfg.concurrency, maxConcurrency)
	case cfg.duration <= 0 || cfg.duration > maxDuration:
		return cfg, fmt.Errorf("-d %s: want more than 0 and at most %s", cfg.duration, maxDuration)
	case cfg.warmup < 0 || cfg.warmup > maxWarmup:
		return cfg, fmt.Errorf("-warmup %s: want 0 to %s", cfg.warmup, maxWarmup)
	case cfg.maxRequests < 1:
		return cfg, fmt.Errorf("-n %d: want at least 1", cfg.maxRequests)
	case cfg.timeout <= 0:
		return cfg, fmt.Errorf("-timeout %s: want more than 0", cfg.timeout)
	}
	if err := checkLoopback(cfg.target()); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func (c config) target() string {
	if c.getURL != "" {
		return c.getURL
	}
	return c.url
}

// checkLoopback refuses any URL that is not http(s) to a loopback host:
// 127.0.0.0/8, ::1 or "localhost". (The dialer checks the address it actually
// connects to as well, see loopbackDialer.)
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q: want an http:// or https:// URL", raw)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to load %q: the host must be a loopback address (127.0.0.0/8, ::1 or localhost); loadgen is for servers on this machine only", host)
}

// loopbackDialer dials like net.Dialer but refuses to connect anywhere other
// than a loopback address, whatever "localhost" resolves to.
func loopbackDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if ta, ok := conn.RemoteAddr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
			conn.Close()
			return nil, fmt.Errorf("refusing non-loopback connection to %s", conn.RemoteAddr())
		}
		return conn, nil
	}
}

func newClient(cfg config) *http.Client {
	return &http.Client{
		Timeout: cfg.timeout,
		Transport: &http.Transport{
			Proxy:               nil, // never via a proxy, whatever HTTP_PROXY says
			DialContext:         loopbackDialer(),
			MaxIdleConns:        2 * cfg.concurrency,
			MaxIdleConnsPerHost: cfg.concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  !cfg.gzip,
		},
		// Never follow a redirect: it could lead off this machine.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// requestBodies pre-encodes every request body, so workers only copy bytes.
func requestBodies(query string) ([][]byte, error) {
	type request struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName,omitempty"`
		Variables     map[string]any `json:"variables,omitempty"`
	}
	if query == "boundaries" {
		b, err := json.Marshal(request{Query: boundariesQuery})
		return [][]byte{b}, err
	}
	bodies := make([][]byte, len(points))
	for i, p := range points {
		b, err := json.Marshal(request{
			Query:         areasAtQuery,
			OperationName: "AreasAt",
			Variables:     map[string]any{"lat": p.Lat, "lon": p.Lon},
		})
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	return bodies, nil
}

// worker holds one worker's tallies; merged after the run.
type worker struct {
	latencies    []time.Duration
	transportErr int64
	statusErr    int64
	graphqlErr   int64
	warmup       int64
	bytes        int64
	status       map[int]int64
	firstErr     string
	buf          bytes.Buffer
}

func (w *worker) fail(kind *int64, msg string) {
	*kind++
	if w.firstErr == "" {
		w.firstErr = msg
	}
}

type report struct {
	requests     int64
	transportErr int64
	statusErr    int64
	graphqlErr   int64
	warmup       int64
	bytes        int64
	elapsed      time.Duration
	latencies    []time.Duration // sorted
	status       map[int]int64
	firstErr     string
}

func (r report) errors() int64 { return r.transportErr + r.statusErr + r.graphqlErr }

func run(ctx context.Context, cfg config, out io.Writer) (report, error) {
	var bodies [][]byte
	method := http.MethodGet
	if cfg.getURL == "" {
		var err error
		if bodies, err = requestBodies(cfg.query); err != nil {
			return report{}, err
		}
		method = http.MethodPost
	}
	client := newClient(cfg)
	defer client.CloseIdleConnections()

	what := fmt.Sprintf("POST %s  query=%s", cfg.url, cfg.query)
	if cfg.query == "areasAt" && cfg.getURL == "" {
		what += fmt.Sprintf(" (%d points round-robin)", len(points))
	}
	if cfg.getURL != "" {
		what = "GET " + cfg.getURL
		if cfg.etag != "" {
			what += "  If-None-Match: " + cfg.etag
		}
	}
	fmt.Fprintf(out, "loadgen: %s\n         concurrency %d, warm-up %s, duration %s, at most %d requests\n",
		what, cfg.concurrency, cfg.warmup, cfg.duration, cfg.maxRequests)

	start := time.Now()
	measureStart := start.Add(cfg.warmup)
	deadline := measureStart.Add(cfg.duration)
	var issued, next atomic.Int64
	workers := make([]*worker, cfg.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			latencies: make([]time.Duration, 0, min(cfg.maxRequests/int64(cfg.concurrency)+1, 1<<16)),
			status:    map[int]int64{},
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(deadline) {
					return
				}
				measured := !now.Before(measureStart)
				if measured && issued.Add(1) > cfg.maxRequests {
					return
				}
				var body []byte
				if bodies != nil {
					body = bodies[(next.Add(1)-1)%int64(len(bodies))]
				}
				w.do(ctx, client, cfg, method, body, measured)
			}
		}()
	}
	wg.Wait()
	end := time.Now()

	rep := report{status: map[int]int64{}}
	if end.After(measureStart) {
		rep.elapsed = end.Sub(measureStart)
	}
	for _, w := range workers {
		rep.latencies = append(rep.latencies, w.latencies...)
		rep.transportErr += w.transportErr
		rep.statusErr += w.statusErr
		rep.graphqlErr += w.graphqlErr
		rep.warmup += w.warmup
		rep.bytes += w.bytes
		for code, n := range w.status {
			rep.status[code] += n
		}
		if rep.firstErr == "" {
			rep.firstErr = w.firstErr
		}
	}
	rep.requests = int64(len(rep.latencies))
	slices.Sort(rep.latencies)
	rep.print(out, ctx.Err() != nil)
	return rep, nil
}

// do sends one request and, if measured, records its outcome and latency.
func (w *worker) do(ctx context.Context, client *http.Client, cfg config, method string, body []byte, measured bool) {
	w.buf.Reset()
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, method, cfg.url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, method, cfg.getURL, nil)
		if err == nil && cfg.etag != "" {
			req.Header.Set("If-None-Match", cfg.etag)
		}
	}
	if err != nil {
		panic(err) // the URL was validated in parseFlags
	}

	t0 := time.Now()
	res, err := client.Do(req)
	var n int64
	if err == nil {
		if method == http.MethodPost {
			n, err = w.buf.ReadFrom(res.Body)
		} else {
			n, err = io.Copy(io.Discard, res.Body)
		}
		res.Body.Close()
	}
	dt := time.Since(t0)

	if ctx.Err() != nil {
		return // interrupted: neither a sample nor an error
	}
	if !measured {
		w.warmup++
		return
	}
	w.latencies = append(w.latencies, dt)
	w.bytes += n
	switch {
	case res == nil:
		w.fail(&w.transportErr, err.Error())
		// Don't spin on "connection refused": pause this worker briefly.
		select {
		case <-ctx.Done():
		case <-time.After(transportErrorPause):
		}
	case err != nil:
		w.status[res.StatusCode]++
		w.fail(&w.transportErr, "reading the response: "+err.Error())
	default:
		w.status[res.StatusCode]++
		ok := res.StatusCode == http.StatusOK || (method == http.MethodGet && res.StatusCode == http.StatusNotModified)
		if !ok {
			w.fail(&w.statusErr, fmt.Sprintf("status %d: %.200s", res.StatusCode, w.buf.Bytes()))
		} else if method == http.MethodPost && bytes.Contains(w.buf.Bytes(), []byte(`"errors"`)) {
			w.fail(&w.graphqlErr, fmt.Sprintf("GraphQL errors: %.300s", w.buf.Bytes()))
		}
	}
}

// percentile is the nearest-rank percentile (0 < p <= 100) of sorted: the
// smallest value with at least p% of the samples at or below it. p <= 0 gives
// the minimum; an empty slice gives 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func (r report) print(out io.Writer, interrupted bool) {
	if interrupted {
		fmt.Fprintln(out, "interrupted: partial results")
	}
	rps := 0.0
	if r.elapsed > 0 {
		rps = float64(r.requests) / r.elapsed.Seconds()
	}
	fmt.Fprintf(out, "warm-up:       %d requests (not measured)\n", r.warmup)
	fmt.Fprintf(out, "requests:      %d\n", r.requests)
	fmt.Fprintf(out, "errors:        %d (transport %d, status %d, GraphQL \"errors\" %d)\n",
		r.errors(), r.transportErr, r.statusErr, r.graphqlErr)
	fmt.Fprintf(out, "elapsed:       %s\n", r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "requests/s:    %.1f\n", rps)
	if r.requests > 0 {
		for _, p := range []struct {
			name string
			p    float64
		}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"max", 100}} {
			fmt.Fprintf(out, "latency %s:   %s\n", p.name, fmtDuration(percentile(r.latencies, p.p)))
		}
		fmt.Fprintf(out, "response size: %.0f B average, %.1f MB in all\n", float64(r.bytes)/float64(r.requests), float64(r.bytes)/1e6)
	}
	if len(r.status) > 0 {
		codes := make([]int, 0, len(r.status))
		for c := range r.status {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		var parts []string
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%d×%d", c, r.status[c]))
		}
		fmt.Fprintf(out, "status codes:  %s\n", strings.Join(parts, ", "))
	}
	if r.firstErr != "" {
		fmt.Fprintf(out, "first error:   %s\n", strings.ReplaceAll(r.firstErr, "\n", " "))
	}
}

func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	}
}
