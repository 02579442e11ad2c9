// Package web serves caregraph's GraphQL playground (GraphiQL) without any CDN.
//
// NHS networks often block CDNs, so the page loads only assets served by this
// package. They are installed from the npm registry at build time (versions
// pinned in web/package.json and web/package-lock.json), copied into web/dist by
// web/build.mjs and embedded in the binary:
//
//	npm ci --prefix web && node web/build.mjs   # or: make web
//
// Without that step the package still compiles (web/dist/.gitkeep is
// committed) and the playground page answers 503 explaining what to run.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

//go:embed index.html
var indexHTML string

// AssetPrefix is the URL path under which the playground's assets are served.
const AssetPrefix = "/playground/"

// assets are the files web/build.mjs copies into web/dist, with the Content-Type
// each is served with. Keep in sync with build.mjs and index.html.
var assets = map[string]string{
	"react.production.min.js":     "text/javascript; charset=utf-8",
	"react-dom.production.min.js": "text/javascript; charset=utf-8",
	"graphiql.min.js":             "text/javascript; charset=utf-8",
	"graphiql.min.css":            "text/css; charset=utf-8",
}

var pageTemplate = template.Must(template.New("index.html").Parse(indexHTML))

// Built reports whether the playground assets are present in the binary.
func Built() bool {
	for name := range assets {
		b, err := fs.ReadFile(dist, "dist/"+name)
		if err != nil || len(b) == 0 {
			return false
		}
	}
	return true
}

// Handler serves the playground page at "/" and its assets under "/playground/".
// endpoint is the GraphQL URL the page posts to (e.g. "/graphql").
//
// Every other path answers 404, so Handler can be mounted at "/" of a mux as the
// catch-all. Only GET and HEAD are allowed. When the assets were not built into
// the binary, "/" answers 503 with a short page saying how to build them.
func Handler(endpoint string) http.Handler {
	h := &handler{built: Built()}
	if !h.built {
		h.page = notBuiltPage(endpoint)
		h.csp = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
		return h
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, struct{ Endpoint string }{endpoint}); err != nil {
		panic("web: rendering index.html: " + err.Error()) // the template is embedded; a failure is a bug
	}
	h.page = buf.Bytes()
	h.csp = pageCSP(h.page, endpoint)
	h.assets = make(map[string]asset, len(assets))
	for name, ctype := range assets {
		b, _ := fs.ReadFile(dist, "dist/"+name) // Built checked they are all there
		sum := sha256.Sum256(b)
		h.assets[name] = asset{
			body:  b,
			ctype: ctype,
			etag:  `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
		}
	}
	return h
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

type handler struct {
	built  bool
	page   []byte
	csp    string
	assets map[string]asset
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a asset
	isAsset := false
	switch {
	case r.URL.Path == "/":
	case strings.HasPrefix(r.URL.Path, AssetPrefix):
		var ok bool
		a, ok = h.assets[strings.TrimPrefix(r.URL.Path, AssetPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		isAsset = true
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	if isAsset {
		hd.Set("Content-Type", a.ctype)
		hd.Set("Cache-Control", "public, max-age=86400")
		hd.Set("ETag", a.etag)
		// ServeContent handles HEAD, Range and If-None-Match (304).
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
		return
	}

	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-cache")
	status := http.StatusOK
	if !h.built {
		status = http.StatusServiceUnavailable
		hd.Set("Cache-Control", "no-store")
	}
	hd.Set("Content-Length", fmt.Sprint(len(h.page)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(h.page)
	}
}

var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// pageCSP is the page's Content-Security-Policy: scripts only from this origin
// plus the page's own inline start-up script (allowed by its SHA-256, not by
// 'unsafe-inline'; GraphiQL 3 needs no 'unsafe-eval'). Styles need
// 'unsafe-inline': GraphiQL's dialogs (react-remove-scroll) insert <style>
// elements at run time, which a hash-only style-src blocks (checked in headless
// Chromium). Fonts and icons in graphiql.min.css are data: URLs. connect-src
// allows the fetcher to post to the endpoint (same origin, or the endpoint's
// origin when it is absolute).
func pageCSP(page []byte, endpoint string) string {
	connectSrc := "'self'"
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" && u.Scheme != "" {
		connectSrc += " " + u.Scheme + "://" + u.Host // a GraphQL server on another origin
	}
	scriptSrc := []string{"'self'"}
	for _, m := range inlineScript.FindAllSubmatch(page, -1) {
		sum := sha256.Sum256(m[1])
		scriptSrc = append(scriptSrc, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + strings.Join(scriptSrc, " "),
		"style-src 'self' 'unsafe-inline'",
		"font-src 'self' data:",
		"img-src 'self' data:",
		"connect-src " + connectSrc,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

func notBuiltPage(endpoint string) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>caregraph · playground not built</title></head>
<body>
<p>The playground assets were not built into this binary. Run <code>make run</code> (or <code>make web</code> then rebuild) — POST %s works without them.</p>
</body>
</html>
`, template.HTMLEscapeString(endpoint))
	return buf.Bytes()
}
