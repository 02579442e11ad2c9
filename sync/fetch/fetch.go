// Package fetch is the HTTP client the syncs share for calling outside sites: every
// attempt has a timeout, at most a fixed number of requests are in flight, an optional
// rate limit spaces them out, and 429 and 5xx answers and transport failures are retried
// with exponential backoff and jitter, waiting at least as long as Retry-After asks.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Options tune a Client; zero fields take the defaults shown.
type Options struct {
	// Timeout bounds one attempt, body included (30s).
	Timeout time.Duration
	// MaxInFlight bounds the requests in flight at once across all callers (4). A
	// request waiting to retry does not hold a place.
	MaxInFlight int
	// MaxAttempts is how many times a request is tried in all (4).
	MaxAttempts int
	// BaseDelay is the wait before the first retry, doubled for each one after (500ms).
	BaseDelay time.Duration
	// MaxDelay caps the computed wait (30s).
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After honoured; a server asking for more fails
	// the request at once rather than stalling the sync (2m).
	MaxRetryAfter time.Duration
	// RateLimit spaces requests to at most this many per second (0: no limit), with
	// Burst requests allowed at once (1).
	RateLimit float64
	Burst     int
	// MaxBodyBytes refuses larger responses (16 MiB).
	MaxBodyBytes int64
	// UserAgent is sent with every request ("caregraph").
	UserAgent string
	// Transport carries the requests (http.DefaultTransport).
	Transport http.RoundTripper
	// Logger receives one line per retry (discarded when nil).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 500 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 30 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 2 * time.Minute
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 20
	}
	if o.UserAgent == "" {
		o.UserAgent = "caregraph"
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Client fetches URLs as Options say. It is safe for concurrent use; the in-flight
// bound holds across every goroutine that shares it.
type Client struct {
	opts    Options
	http    *http.Client
	slots   chan struct{}
	limiter *rate.Limiter
	// sleep waits between attempts; tests replace it to observe the waits.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a number in [0, 1).
	jitter func() float64
}

// New returns a Client.
func New(o Options) *Client {
	o = o.withDefaults()
	c := &Client{
		opts:   o,
		http:   &http.Client{Transport: o.Transport, Timeout: o.Timeout},
		slots:  make(chan struct{}, o.MaxInFlight),
		sleep:  sleepCtx,
		jitter: rand.Float64,
	}
	if o.RateLimit > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), o.Burst)
	}
	return c
}

// StatusError is an answer with a status other than 2xx, after any retries.
type StatusError struct {
	URL        string
	StatusCode int
	Attempts   int
	// RetryAfter is what the last answer asked for, if anything.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("GET %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (the server asked to wait %s)", e.RetryAfter)
	}
	return msg
}

// ErrTooLarge is returned for a response body over MaxBodyBytes.
var ErrTooLarge = errors.New("response too large")

// Get fetches url with the extra header fields given and returns the body of a 2xx
// answer. Errors name the URL; header values (such as API keys) never appear in them.
func (c *Client) Get(ctx context.Context, url string, header http.Header) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		if c.limiter != nil {
			if err := c.limiter.Wait(ctx); err != nil {
				return nil, fmt.Errorf("GET %s: %w", url, err)
			}
		}
		body, status, retryAfter, err := c.attempt(ctx, url, header)
		if err == nil && status >= 200 && status < 300 {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %w", url, ctx.Err())
		}
		if err == nil && !retryable(status) {
			return nil, &StatusError{URL: url, StatusCode: status, Attempts: attempt}
		}
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		if retryAfter > c.opts.MaxRetryAfter {
			return nil, &StatusError{URL: url, StatusCode: status, Attempts: attempt, RetryAfter: retryAfter}
		}
		if attempt >= c.opts.MaxAttempts {
			if err != nil {
				return nil, fmt.Errorf("GET %s: %w (after %d attempts)", url, err, attempt)
			}
			return nil, &StatusError{URL: url, StatusCode: status, Attempts: attempt, RetryAfter: retryAfter}
		}
		wait := c.backoff(attempt)
		if retryAfter > wait {
			wait = retryAfter
		}
		reason := fmt.Sprint(status)
		if err != nil {
			reason = err.Error()
		}
		c.opts.Logger.InfoContext(ctx, "retrying request", "url", url, "attempt", attempt, "reason", reason, "wait", wait.String())
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("GET %s: %w", url, err)
		}
	}
}

// attempt makes one request while holding an in-flight place.
func (c *Client) attempt(ctx context.Context, url string, header http.Header) (body []byte, status int, retryAfter time.Duration, err error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, 0, ctx.Err()
	}
	defer func() { <-c.slots }()
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, 0, err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL is already in the caller's message; strip it from the transport's.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return nil, 0, 0, err
	}
	defer resp.Body.Close()
	retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, resp.StatusCode, retryAfter, nil
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return nil, 0, 0, fmt.Errorf("GET %s: %w (over %d bytes)", url, ErrTooLarge, c.opts.MaxBodyBytes)
	}
	return body, resp.StatusCode, retryAfter, nil
}

// retryable reports whether an answer may succeed if asked again: rate limiting and
// server-side failures, but not 501 (the server will never do it).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout ||
		(status >= 500 && status != http.StatusNotImplemented)
}

// backoff is the wait before retry n (1-based): the exponential step, capped, with
// "equal jitter" (half fixed, half random) so that replicas that failed together do not
// retry together, while the wait never collapses to nothing.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.BaseDelay << (n - 1)
	if d <= 0 || d > c.opts.MaxDelay {
		d = c.opts.MaxDelay
	}
	half := d / 2
	return half + time.Duration(c.jitter()*float64(half))
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date (RFC 9110
// §10.2.3). Anything else, or a date in the past, is no wait.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
