package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder replaces the client's sleep, recording the waits without waiting.
type recorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recorder) sleep(_ context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	return nil
}

func newTestClient(o Options) (*Client, *recorder) {
	c := New(o)
	r := &recorder{}
	c.sleep = r.sleep
	c.jitter = func() float64 { return 0.5 }
	return c, r
}

func TestGetRetriesAndGivesUp(t *testing.T) {
	retryAt := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		answers    []func(w http.ResponseWriter)
		wantErr    string
		wantCalls  int
		wantStatus int
		// wantWaits are lower bounds of the waits between attempts.
		wantWaits []time.Duration
	}{
		{
			name:      "404 is final",
			answers:   []func(http.ResponseWriter){status(404, "")},
			wantErr:   "404 Not Found",
			wantCalls: 1, wantStatus: 404,
		},
		{
			name:      "503 then success",
			answers:   []func(http.ResponseWriter){status(503, ""), ok("<html>fine</html>")},
			wantCalls: 2, wantWaits: []time.Duration{375 * time.Millisecond},
		},
		{
			name:      "429 with Retry-After in seconds",
			answers:   []func(http.ResponseWriter){status(429, "7"), ok("fine")},
			wantCalls: 2, wantWaits: []time.Duration{7 * time.Second},
		},
		{
			name:      "429 with Retry-After as an HTTP date",
			answers:   []func(http.ResponseWriter){status(429, retryAt), ok("fine")},
			wantCalls: 2, wantWaits: []time.Duration{85 * time.Second},
		},
		{
			name:      "Retry-After beyond the limit fails at once",
			answers:   []func(http.ResponseWriter){status(429, "3600")},
			wantErr:   "the server asked to wait 1h0m0s",
			wantCalls: 1, wantStatus: 429,
		},
		{
			name:      "503 every time",
			answers:   []func(http.ResponseWriter){status(503, ""), status(503, ""), status(502, ""), status(503, "")},
			wantErr:   "503 Service Unavailable after 4 attempts",
			wantCalls: 4, wantStatus: 503,
			wantWaits: []time.Duration{375 * time.Millisecond, 750 * time.Millisecond, 1500 * time.Millisecond},
		},
		{
			name:      "501 is not retried",
			answers:   []func(http.ResponseWriter){status(501, "")},
			wantErr:   "501",
			wantCalls: 1, wantStatus: 501,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				if n >= len(tt.answers) {
					n = len(tt.answers) - 1
				}
				tt.answers[n](w)
			}))
			defer srv.Close()
			c, rec := newTestClient(Options{})
			body, err := c.Get(context.Background(), srv.URL+"/page.html", nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(body) == 0 {
					t.Error("empty body")
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != tt.wantStatus {
					t.Errorf("err = %#v, want a StatusError with %d", err, tt.wantStatus)
				}
			}
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if len(rec.waits) != len(tt.wantWaits) {
				t.Fatalf("waits = %v, want %d of them", rec.waits, len(tt.wantWaits))
			}
			for i, w := range tt.wantWaits {
				if rec.waits[i] < w || rec.waits[i] > w+10*time.Second {
					t.Errorf("wait %d = %s, want at least %s", i, rec.waits[i], w)
				}
			}
		})
	}
}

func status(code int, retryAfter string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
	}
}

func ok(body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { _, _ = w.Write([]byte(body)) }
}

func TestGetTimesOutEachAttempt(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, rec := newTestClient(Options{Timeout: 50 * time.Millisecond, MaxAttempts: 2})
	start := time.Now()
	_, err := c.Get(context.Background(), srv.URL, nil)
	if err == nil || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 2 || len(rec.waits) != 1 {
		t.Errorf("calls %d, waits %v", calls.Load(), rec.waits)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the timeout did not cut the attempts short")
	}
}

func TestGetStopsWhenCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
	}))
	defer srv.Close()
	c := New(Options{BaseDelay: time.Hour, MaxDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx, srv.URL, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

func TestGetSendsHeadersAndBoundsInFlight(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Ocp-Apim-Subscription-Key") != "k3y" || r.Header.Get("User-Agent") != "caregraph-test" {
			w.WriteHeader(401)
			return
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c := New(Options{MaxInFlight: 3, UserAgent: "caregraph-test"})
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 12 {
		wg.Go(func() {
			_, err := c.Get(context.Background(), srv.URL, http.Header{"Ocp-Apim-Subscription-Key": {"k3y"}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := maxInFlight.Load(); m > 3 || m < 2 {
		t.Errorf("at most %d requests were in flight, want 2..3", m)
	}
}

func TestRateLimitSpacesRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	c := New(Options{RateLimit: 20, Burst: 1})
	start := time.Now()
	for range 5 {
		if _, err := c.Get(context.Background(), srv.URL, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Five requests at 20 per second need at least four intervals of 50 ms.
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("5 requests took %s; the limiter did not space them", d)
	}
}

func TestGetRefusesHugeBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
	}))
	defer srv.Close()
	_, err := New(Options{MaxBodyBytes: 1024}).Get(context.Background(), srv.URL, nil)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 6, 7, 5, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"Sun, 07 Jun 2026 05:01:30 GMT": 90 * time.Second,
		"Sun, 07 Jun 2026 04:00:00 GMT": 0,
		"99999999":                      24 * time.Hour,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}
