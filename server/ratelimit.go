package main

import (
	"container/list"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimit is a token bucket's setting: Rate requests per second on average, Burst at
// once. The zero value means no limit.
type rateLimit struct {
	Rate  float64
	Burst int
}

func (l rateLimit) off() bool { return l.Rate <= 0 }

func (l rateLimit) String() string {
	if l.off() {
		return "off"
	}
	return fmt.Sprintf("%g/s burst %d", l.Rate, l.Burst)
}

// parseRateLimit reads "RATE,BURST" (requests per second, and how many may come at
// once), "RATE" (burst twice the rate) or "off".
func parseRateLimit(name, v string) (rateLimit, error) {
	v = strings.TrimSpace(v)
	if v == "off" || v == "0" {
		return rateLimit{}, nil
	}
	r, b, hasBurst := strings.Cut(v, ",")
	perSec, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
	if err != nil || perSec <= 0 || math.IsInf(perSec, 0) {
		return rateLimit{}, fmt.Errorf("%s: want RATE,BURST in requests per second (e.g. 20,40) or off, got %q", name, v)
	}
	burst := int(math.Ceil(2 * perSec))
	if hasBurst {
		if burst, err = strconv.Atoi(strings.TrimSpace(b)); err != nil || burst < 1 {
			return rateLimit{}, fmt.Errorf("%s: burst must be a whole number of at least 1, got %q", name, b)
		}
	}
	return rateLimit{Rate: perSec, Burst: burst}, nil
}

// limiterSet keeps one token bucket per key (an address, a token) in a bounded
// least-recently-used list: the least recently seen key is dropped when the set is
// full, and keys idle long enough for their bucket to have refilled are dropped as
// new ones arrive, since a full bucket is what a new key gets anyway.
type limiterSet struct {
	limit rateLimit
	max   int
	idle  time.Duration
	now   func() time.Time

	mu    sync.Mutex
	order *list.List // of *bucket, most recently seen at the front
	keys  map[string]*list.Element
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

func newLimiterSet(l rateLimit, capacity int) *limiterSet {
	// A bucket drained to nothing refills in Burst/Rate seconds.
	refill := time.Duration(float64(l.Burst) / l.Rate * float64(time.Second))
	return &limiterSet{limit: l, max: capacity, idle: max(refill, time.Second), now: time.Now,
		order: list.New(), keys: map[string]*list.Element{}}
}

// allow takes a token for key; when none is left it returns false and how long until
// one will be.
func (s *limiterSet) allow(key string) (bool, time.Duration) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var b *bucket
	if e, ok := s.keys[key]; ok {
		s.order.MoveToFront(e)
		b = e.Value.(*bucket)
	} else {
		s.expire(now)
		if s.order.Len() >= s.max {
			oldest := s.order.Back()
			s.order.Remove(oldest)
			delete(s.keys, oldest.Value.(*bucket).key)
		}
		b = &bucket{key: key, lim: rate.NewLimiter(rate.Limit(s.limit.Rate), s.limit.Burst)}
		s.keys[key] = s.order.PushFront(b)
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// expire drops the buckets idle long enough to have refilled, oldest first.
func (s *limiterSet) expire(now time.Time) {
	for e := s.order.Back(); e != nil; e = s.order.Back() {
		b := e.Value.(*bucket)
		if now.Sub(b.seen) < s.idle {
			return
		}
		s.order.Remove(e)
		delete(s.keys, b.key)
	}
}

// ipKey is the rate-limit key of an address: the address itself for IPv4, its /64
// network for IPv6, which one subscriber gets whole and can hop around in.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
