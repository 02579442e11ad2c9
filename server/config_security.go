package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"caregraph/graph"
)

// securityConfig are the limits of the GraphQL endpoint and the session settings; every
// variable is described in docs/security.md.
type securityConfig struct {
	// MaxDepth is how deeply an operation's fields may nest (CAREGRAPH_MAX_DEPTH, 12).
	MaxDepth int
	// RateLimitIP limits anonymous requests, and requests with a bad token, per address
	// (CAREGRAPH_RATE_LIMIT_IP, "50,100").
	RateLimitIP rateLimit
	// RateLimitToken limits authenticated requests per token (CAREGRAPH_RATE_LIMIT_TOKEN,
	// "20,40").
	RateLimitToken rateLimit
	// SessionTTL is how long a login token lasts (CAREGRAPH_SESSION_TTL, 12h).
	SessionTTL time.Duration
	// ClientIPHeader names the header a reverse proxy puts the caller's address in, such
	// as X-Forwarded-For (CAREGRAPH_CLIENT_IP_HEADER; empty uses the connection's peer).
	ClientIPHeader string
}

// loadSecurity reads the security settings, and the body size limit, into c.
func (c *config) loadSecurity(getenv func(string) string) error {
	c.MaxDepth = graph.DefaultMaxDepth
	c.RateLimitIP = rateLimit{Rate: 50, Burst: 100}
	c.RateLimitToken = rateLimit{Rate: 20, Burst: 40}
	c.SessionTTL = 12 * time.Hour
	var err error
	if c.MaxDepth, err = intEnv(getenv, "CAREGRAPH_MAX_DEPTH", c.MaxDepth); err != nil {
		return err
	}
	if v := getenv("CAREGRAPH_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("CAREGRAPH_MAX_BODY_BYTES: want a number of bytes of at least 1024, got %q", v)
		}
		c.MaxBodyBytes = n
	}
	for name, dst := range map[string]*rateLimit{"CAREGRAPH_RATE_LIMIT_IP": &c.RateLimitIP, "CAREGRAPH_RATE_LIMIT_TOKEN": &c.RateLimitToken} {
		if v := getenv(name); v != "" {
			if *dst, err = parseRateLimit(name, v); err != nil {
				return err
			}
		}
	}
	if c.SessionTTL, err = durationEnv(getenv, "CAREGRAPH_SESSION_TTL", c.SessionTTL); err != nil {
		return err
	}
	if h := strings.TrimSpace(getenv("CAREGRAPH_CLIENT_IP_HEADER")); h != "" {
		c.ClientIPHeader = http.CanonicalHeaderKey(h)
	}
	return nil
}
