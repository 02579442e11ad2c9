package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"

	"caregraph/auth"
)

// limiterCapacity bounds how many addresses, and how many tokens, have a bucket at once.
const limiterCapacity = 100_000

// limits are the per-address and per-token rate limiters; nil when switched off.
type limits struct {
	byIP, byToken *limiterSet
}

func newLimits(cfg config) *limits {
	l := &limits{}
	if !cfg.RateLimitIP.off() {
		l.byIP = newLimiterSet(cfg.RateLimitIP, limiterCapacity)
	}
	if !cfg.RateLimitToken.off() {
		l.byToken = newLimiterSet(cfg.RateLimitToken, limiterCapacity)
	}
	return l
}

// authOptions is the auth service's configuration.
func (c config) authOptions(logger *slog.Logger) auth.Options {
	return auth.Options{SessionTTL: c.SessionTTL, Logger: logger}
}

// gate stands in front of the GraphQL handler. In order: it rate-limits (anonymous
// requests and bad tokens per address, authenticated ones per token), authenticates
// the bearer token and puts the principal in the request's context, and refuses
// bodies over the size limit. Refusals are GraphQL-shaped JSON with extensions.code.
func (a *app) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := a.clientIP(r)
		ctx := auth.WithClientIP(r.Context(), ip)
		header := r.Header.Get("Authorization")
		var p *auth.Principal
		if header == "" {
			if !a.allow(w, a.limits.byIP, ipKey(ip)) {
				return
			}
		} else {
			var err error
			p, err = a.auth.Authenticate(ctx, header)
			switch {
			case errors.Is(err, auth.ErrUnauthenticated):
				// Guessing at tokens spends the address's allowance.
				if !a.allow(w, a.limits.byIP, ipKey(ip)) {
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="caregraph", error="invalid_token"`)
				writeGraphQLError(w, http.StatusUnauthorized, "UNAUTHENTICATED", strings.TrimPrefix(err.Error(), "unauthenticated: "))
				return
			case err != nil:
				a.logger.ErrorContext(ctx, "authenticate request", "error", err)
				writeGraphQLError(w, http.StatusInternalServerError, "INTERNAL", "internal error")
				return
			}
			if !a.allow(w, a.limits.byToken, strconv.FormatInt(p.TokenID, 10)) {
				return
			}
			ctx = auth.WithPrincipal(ctx, p)
		}
		if !a.readBody(w, r) {
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// allow takes a token from the key's bucket, or answers 429 with Retry-After.
func (a *app) allow(w http.ResponseWriter, set *limiterSet, key string) bool {
	if set == nil {
		return true
	}
	ok, wait := set.allow(key)
	if ok {
		return true
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeGraphQLError(w, http.StatusTooManyRequests, "RATE_LIMITED",
		fmt.Sprintf("too many requests: try again in %d s", max(secs, 1)))
	return false
}

// readBody reads the request body into memory, refusing it with 413 once it passes the
// limit, so that the GraphQL transport never meets a truncated body (which it would
// report as a server error).
func (a *app) readBody(w http.ResponseWriter, r *http.Request) bool {
	limit := a.bodyLimit(r)
	tooLarge := func() bool {
		w.Header().Set("Connection", "close")
		writeGraphQLError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
			fmt.Sprintf("the request body is larger than %d bytes", limit))
		return false
	}
	if r.ContentLength > limit {
		return tooLarge()
	}
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return tooLarge()
	case err != nil:
		writeGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", "the request body could not be read")
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// clientIP is the caller's address: the connection's peer, or, behind a proxy named by
// CAREGRAPH_CLIENT_IP_HEADER, the last address that header lists (the one the proxy
// saw; earlier entries are whatever the client claimed).
func (a *app) clientIP(r *http.Request) string {
	if h := a.cfg.ClientIPHeader; h != "" {
		values := r.Header.Values(h)
		if len(values) > 0 {
			parts := strings.Split(values[len(values)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeGraphQLError answers with a GraphQL response holding one error, as the GraphQL
// handler would, for refusals made before a request reaches it.
func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}
