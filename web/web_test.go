package web

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// These tests pass both before the assets are built (web/dist holds only
// .gitkeep) and after `npm ci --prefix web && node web/build.mjs`.

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestIndex(t *testing.T) {
	h := Handler("/graphql")
	res, body := get(t, h, http.MethodGet, "/")
	t.Logf("Built() = %v", Built())

	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	csp := res.Header.Get("Content-Security-Policy")
	if csp == "" {
		t.Error("no Content-Security-Policy on the page")
	}
	low := strings.ToLower(body)
	for _, bad := range []string{"http://", "https://", "cdn"} {
		if strings.Contains(low, bad) {
			t.Errorf("page contains %q; it must load only local assets", bad)
		}
	}

	if !Built() {
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503 when the assets are not built", res.StatusCode)
		}
		for _, want := range []string{"were not built into this binary", "make run", "make web", "POST /graphql works without them"} {
			if !strings.Contains(body, want) {
				t.Errorf("503 page lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "<script") {
			t.Error("503 page has a script")
		}
		return
	}

	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	for _, want := range []string{
		`src="/playground/react.production.min.js"`,
		`src="/playground/react-dom.production.min.js"`,
		`src="/playground/graphiql.min.js"`,
		`href="/playground/graphiql.min.css"`,
		"GraphiQL.createFetcher({ url: endpoint })",
		`var endpoint = "/graphql";`,
		"defaultTabs",
		"query WhereIsThis {\n  areasAt(lat: 52.1751, lon: 0.1408) { kind code name }\n}",
		"# Which country, NHS England region and integrated care board contain Addenbrooke's Hospital?",
		"areas(kind: INTEGRATED_CARE_BOARD, first: 50) {\n    totalCount\n    nodes { code name areaSqKm centroid }\n  }",
		"# One GeoJSON FeatureCollection, simplified for zoom 6.\nquery Boundaries {\n  boundaries(kind: LOCAL_HEALTH_BOARD, zoom: 6)\n}",
		`area(kind: LOCAL_HEALTH_BOARD, code: "W11000029") { name welshName areaSqKm attribution boundary(zoom: 8) }`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// The CSP allows scripts only from 'self' plus the hash of the page's one
	// inline script, and never 'unsafe-inline' or 'unsafe-eval' for scripts.
	scriptSrc := directive(csp, "script-src")
	if strings.Contains(scriptSrc, "unsafe") || !strings.HasPrefix(scriptSrc, "'self'") {
		t.Errorf("script-src = %q", scriptSrc)
	}
	inline := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(body, -1)
	if len(inline) != 1 {
		t.Fatalf("found %d inline scripts, want 1", len(inline))
	}
	sum := sha256.Sum256([]byte(inline[0][1]))
	if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(scriptSrc, want) {
		t.Errorf("script-src %q lacks the inline script's hash %s", scriptSrc, want)
	}
	if d := directive(csp, "default-src"); d != "'none'" {
		t.Errorf("default-src = %q", d)
	}
	if d := directive(csp, "connect-src"); d != "'self'" {
		t.Errorf("connect-src = %q", d)
	}
}

func directive(csp, name string) string {
	for _, d := range strings.Split(csp, ";") {
		d = strings.TrimSpace(d)
		if v, ok := strings.CutPrefix(d, name+" "); ok {
			return v
		}
	}
	return ""
}

func TestEndpointIsEscaped(t *testing.T) {
	if !Built() {
		_, body := get(t, Handler(`/q"<x>`), http.MethodGet, "/")
		if strings.Contains(body, `<x>`) {
			t.Errorf("endpoint not escaped in the 503 page:\n%s", body)
		}
		return
	}
	_, body := get(t, Handler(`/q";alert(1);//</script>`), http.MethodGet, "/")
	if strings.Contains(body, `alert(1);//</script>`) || strings.Contains(body, `"/q";`) {
		t.Errorf("endpoint not escaped as a JS string:\n%s", body)
	}
}

func TestNotFound(t *testing.T) {
	h := Handler("/graphql")
	for _, p := range []string{
		"/index.html", "/favicon.ico", "/graphql", "/playground/", "/playground",
		"/playground/graphiql.min.js.map", "/playground/.gitkeep", "/playground/../web.go",
		"/dist/graphiql.min.js", "/playground/graphiql.js", "/x/playground/graphiql.min.js",
	} {
		if res, _ := get(t, h, http.MethodGet, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	res, _ := get(t, Handler("/graphql"), http.MethodPost, "/")
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestAssets(t *testing.T) {
	h := Handler("/graphql")
	want := map[string]string{
		"/playground/react.production.min.js":     "text/javascript; charset=utf-8",
		"/playground/react-dom.production.min.js": "text/javascript; charset=utf-8",
		"/playground/graphiql.min.js":             "text/javascript; charset=utf-8",
		"/playground/graphiql.min.css":            "text/css; charset=utf-8",
	}
	for path, ctype := range want {
		res, body := get(t, h, http.MethodGet, path)
		if !Built() {
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s without built assets: status %d, want 404", path, res.StatusCode)
			}
			continue
		}
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", path, res.StatusCode)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, ctype)
		}
		if got := res.Header.Get("Cache-Control"); got != "public, max-age=86400" {
			t.Errorf("GET %s: Cache-Control %q", path, got)
		}
		if len(body) < 1000 {
			t.Errorf("GET %s: only %d bytes", path, len(body))
		}
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", path)
			continue
		}
		if res, body := get(t, h, http.MethodGet, path, "If-None-Match", etag); res.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("GET %s with If-None-Match: status %d, %d bytes", path, res.StatusCode, len(body))
		}
		if res, body := get(t, h, http.MethodHead, path); res.StatusCode != http.StatusOK || body != "" {
			t.Errorf("HEAD %s: status %d, %d bytes", path, res.StatusCode, len(body))
		}
	}
}

func TestBuiltMatchesDist(t *testing.T) {
	// Built is all or nothing: either every asset is embedded or the page
	// explains how to build them.
	n := 0
	for name := range assets {
		if b, err := dist.ReadFile("dist/" + name); err == nil && len(b) > 0 {
			n++
		}
	}
	if Built() != (n == len(assets)) {
		t.Errorf("Built() = %v with %d of %d assets present", Built(), n, len(assets))
	}
}
