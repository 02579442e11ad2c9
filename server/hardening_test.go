package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"caregraph/auth"
)

func TestDepthLimit(t *testing.T) {
	s := newAuthServer(t, func(c *config) { c.MaxDepth = 5 })
	// me(1) units(2) users(3) units(4) pzCode(5): at the limit.
	ok := `{ me { units { users { units { pzCode } } } } }`
	deep := `{ me { units { users { units { users { email } } } } } }`
	viaFragments := `{ me { ...A } } fragment A on User { units { ...B } } fragment B on PaediatricDiabetesUnit { users { units { users { email } } } }`
	for q, tooDeep := range map[string]bool{ok: false, deep: true, viaFragments: true} {
		_, r := s.post(t, "", q, nil)
		got := slices.Contains(errorCodes(r), "QUERY_TOO_DEEP")
		if got != tooDeep {
			t.Errorf("%s: codes %v, too deep %v, want %v", q, errorCodes(r), got, tooDeep)
		}
		if tooDeep && r.Data != nil && string(r.Data) != "null" {
			t.Errorf("%s ran: %s", q, r.Data)
		}
	}
	// The playground's introspection query follows type references through ten levels of
	// ofType; at the default limit it must pass, though counted whole it is 16 deep.
	ofType := "name"
	for range 10 {
		ofType = "kind name ofType { " + ofType + " }"
	}
	playground := `{ __schema { types { fields { args { type { ` + ofType + ` } } } } } }`
	d := newAuthServer(t, nil)
	if _, r := d.post(t, "", playground, nil); len(r.Errors) > 0 {
		t.Errorf("introspection refused at the default limit: %+v", r.Errors)
	}
	if _, r := s.post(t, "", playground, nil); !slices.Contains(errorCodes(r), "QUERY_TOO_DEEP") {
		t.Errorf("introspection six fields deep (ofType aside) passed a limit of 5: %v", errorCodes(r))
	}
}

func TestConnectionsCostByFirst(t *testing.T) {
	s := newAuthServer(t, func(c *config) { c.MaxComplexity = 2000 })
	team := s.auditTeamToken(t, "team@rcpch.example")
	for q, refused := range map[string]bool{
		`{ users(first: 10) { nodes { email units { pzCode } } } }`:                                 false,
		`{ users(first: 1000) { nodes { email units { pzCode } } } }`:                               true,
		`{ accessLog(first: 1000) { nodes { action user { email } } } }`:                            true,
		`{ accessLog(first: 50) { nodes { action user { email } } } }`:                              false,
		`{ paediatricDiabetesUnit(pzCode: "PZ001") { users { email units { users { email } } } } }`: true,
	} {
		_, r := s.post(t, team, q, nil)
		got := slices.Contains(errorCodes(r), "COMPLEXITY_LIMIT_EXCEEDED")
		if got != refused {
			t.Errorf("%s: codes %v, refused %v, want %v", q, errorCodes(r), got, refused)
		}
	}
	if _, r := s.post(t, team, `{ users(first: 1001) { totalCount } }`, nil); !slices.Equal(errorCodes(r), []string{"BAD_USER_INPUT"}) {
		t.Errorf("first: 1001 gave %v", errorCodes(r))
	}
}

func TestBodySizeLimit(t *testing.T) {
	s := newAuthServer(t, func(c *config) { c.MaxBodyBytes = 4096 })
	padding := strings.Repeat(" ", 5000)
	status, r := s.postRaw(t, "", []byte(`{"query": "{ __typename }`+padding+`"}`))
	if status != http.StatusRequestEntityTooLarge || !slices.Equal(errorCodes(r), []string{"REQUEST_TOO_LARGE"}) {
		t.Errorf("oversize body: %d %v", status, errorCodes(r))
	}
	// Without a Content-Length the limit applies while reading.
	req, _ := http.NewRequest("POST", s.URL+"/graphql", io.MultiReader(strings.NewReader(`{"query": "{ __typename }`), strings.NewReader(padding+`"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversize body: %d", resp.StatusCode)
	}
	if status, r := s.postRaw(t, "", []byte(`{"query": "{ __typename }"}`)); status != 200 || len(r.Errors) > 0 {
		t.Errorf("small body: %d %+v", status, r.Errors)
	}
	if c, err := loadConfig(envFunc(map[string]string{"CAREGRAPH_MAX_BODY_BYTES": "65536"})); err != nil || c.MaxBodyBytes != 65536 {
		t.Errorf("CAREGRAPH_MAX_BODY_BYTES: %v %d", err, c.MaxBodyBytes)
	}
}

func TestPersistedQueries(t *testing.T) {
	s := newAuthServer(t, nil)
	q := `{ paediatricDiabetesUnit(pzCode: "PZ001") { pzCode } }`
	sum := sha256.Sum256([]byte(q))
	hash := hex.EncodeToString(sum[:])
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	send := func(body map[string]any) gqlResponse {
		b, _ := json.Marshal(body)
		_, r := s.postRaw(t, "", b)
		return r
	}
	if r := send(map[string]any{"extensions": ext}); len(r.Errors) != 1 || r.Errors[0].Message != "PersistedQueryNotFound" {
		t.Fatalf("unknown hash: %+v", r.Errors)
	}
	if r := send(map[string]any{"query": q, "extensions": ext}); len(r.Errors) > 0 || !strings.Contains(string(r.Data), "PZ001") {
		t.Fatalf("register: %+v %s", r.Errors, r.Data)
	}
	if r := send(map[string]any{"extensions": ext}); len(r.Errors) > 0 || !strings.Contains(string(r.Data), "PZ001") {
		t.Errorf("by hash: %+v %s", r.Errors, r.Data)
	}
	wrong := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if r := send(map[string]any{"query": q, "extensions": wrong}); len(r.Errors) == 0 {
		t.Error("a query registered under a hash that is not its own")
	}
	// A persisted query runs behind the same gate as any other.
	secret := `{ users { totalCount } }`
	sum = sha256.Sum256([]byte(secret))
	guarded := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	send(map[string]any{"query": secret, "extensions": guarded})
	if r := send(map[string]any{"extensions": guarded}); !slices.Equal(errorCodes(r), []string{"UNAUTHENTICATED"}) {
		t.Errorf("a persisted guarded query answered anonymously: %v", errorCodes(r))
	}
}

func TestRateLimits(t *testing.T) {
	s := newAuthServer(t, func(c *config) {
		c.RateLimitIP = rateLimit{Rate: 0.01, Burst: 3}
		c.RateLimitToken = rateLimit{Rate: 0.01, Burst: 5}
	})
	s.account(t, "rae@a.example", auth.Reader, "reader password", "PZ001")
	token, err := s.app.auth.Login(t.Context(), "rae@a.example", "reader password", "")
	if err != nil {
		t.Fatal(err)
	}
	get := func(bearer string) *http.Response {
		req, _ := http.NewRequest("POST", s.URL+"/graphql", bytes.NewReader([]byte(`{"query":"{ __typename }"}`)))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	statuses := func(bearer string, n int) []int {
		var out []int
		for range n {
			out = append(out, get(bearer).StatusCode)
		}
		return out
	}
	if got := statuses("", 4); !slices.Equal(got, []int{200, 200, 200, 429}) {
		t.Errorf("anonymous: %v, want three 200s and a 429", got)
	}
	resp := get("")
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != 429 || err != nil || ra < 1 {
		t.Errorf("429 without a usable Retry-After: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The token has its own bucket, untouched by the address's.
	if got := statuses(token.Token, 6); !slices.Equal(got, []int{200, 200, 200, 200, 200, 429}) {
		t.Errorf("with a token: %v, want five 200s and a 429", got)
	}
	// Bad tokens spend the address's allowance, which is gone: 429 rather than 401.
	if got := get("cgt_" + strings.Repeat("A", 43)).StatusCode; got != 429 {
		t.Errorf("a bad token from a limited address: %d", got)
	}
	for env, want := range map[string]string{"20,40": "20/s burst 40", "5": "5/s burst 10", "off": "off", "0.5,1": "0.5/s burst 1"} {
		c, err := loadConfig(envFunc(map[string]string{"CAREGRAPH_RATE_LIMIT_IP": env, "CAREGRAPH_RATE_LIMIT_TOKEN": env}))
		if err != nil || c.RateLimitIP.String() != want || c.RateLimitToken.String() != want {
			t.Errorf("%q: %v %s %s", env, err, c.RateLimitIP, c.RateLimitToken)
		}
	}
	for _, bad := range []string{"fast", "-1", "10,0", "10,x"} {
		if _, err := loadConfig(envFunc(map[string]string{"CAREGRAPH_RATE_LIMIT_TOKEN": bad})); err == nil || !strings.Contains(err.Error(), "CAREGRAPH_RATE_LIMIT_TOKEN") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestLimiterSetIsBounded(t *testing.T) {
	set := newLimiterSet(rateLimit{Rate: 1, Burst: 1}, 3)
	for i := range 10 {
		set.allow(fmt.Sprint(i))
	}
	if set.order.Len() != 3 || len(set.keys) != 3 {
		t.Errorf("%d buckets kept, want 3", set.order.Len())
	}
	if ok, _ := set.allow("9"); ok {
		t.Error("the most recent key lost its bucket")
	}
	if ipKey("2001:db8:1:2:3:4:5:6") != ipKey("2001:db8:1:2:ffff::1") || ipKey("192.0.2.1") == ipKey("192.0.2.2") {
		t.Error("IPv6 addresses should share their /64's bucket, IPv4 ones not")
	}
}

func TestBadTokensAre401(t *testing.T) {
	s := newAuthServer(t, nil)
	for _, header := range []string{"Bearer nonsense", "Bearer cgt_" + strings.Repeat("A", 43), "Basic dXNlcjpwYXNz"} {
		req, _ := http.NewRequest("POST", s.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r gqlResponse
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if resp.StatusCode != 401 || !slices.Equal(errorCodes(r), []string{"UNAUTHENTICATED"}) || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %v %q", header, resp.StatusCode, errorCodes(r), resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestSecurityConfig(t *testing.T) {
	c, err := loadConfig(envFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxDepth != 12 || c.MaxBodyBytes != 1<<20 || c.SessionTTL != 12*time.Hour || c.RateLimitIP.String() != "50/s burst 100" || c.RateLimitToken.String() != "20/s burst 40" || c.ClientIPHeader != "" {
		t.Errorf("defaults: %+v", c.securityConfig)
	}
	for k, v := range map[string]string{"CAREGRAPH_MAX_DEPTH": "0", "CAREGRAPH_MAX_BODY_BYTES": "10", "CAREGRAPH_SESSION_TTL": "forever", "CAREGRAPH_RATE_LIMIT_IP": "lots"} {
		if _, err := loadConfig(envFunc(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming the variable", k, v, err)
		}
	}
	c, err = loadConfig(envFunc(map[string]string{"CAREGRAPH_CLIENT_IP_HEADER": "x-forwarded-for", "CAREGRAPH_SESSION_TTL": "8h", "CAREGRAPH_MAX_DEPTH": "20"}))
	if err != nil || c.SessionTTL != 8*time.Hour || c.MaxDepth != 20 {
		t.Fatalf("%v %+v", err, c.securityConfig)
	}
	a := &app{cfg: c}
	req := httptest.NewRequest("POST", "/graphql", nil)
	req.RemoteAddr = "10.0.0.9:4000"
	req.Header.Set("X-Forwarded-For", "203.0.113.5, 198.51.100.7")
	if got := a.clientIP(req); got != "198.51.100.7" {
		t.Errorf("behind a proxy: %s, want the address the proxy saw (the last one)", got)
	}
	req.Header.Del("X-Forwarded-For")
	if got := a.clientIP(req); got != "10.0.0.9" {
		t.Errorf("without the header: %s", got)
	}
	a.cfg.ClientIPHeader = ""
	req.Header.Set("X-Forwarded-For", "203.0.113.5")
	if got := a.clientIP(req); got != "10.0.0.9" {
		t.Errorf("a client's own X-Forwarded-For was believed: %s", got)
	}
}
