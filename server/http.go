package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"caregraph/auth"
	"caregraph/gis"
	"caregraph/graph"
	"caregraph/graph/generated"
	"caregraph/migrations"
	"caregraph/store"
	"caregraph/submissions"
	"caregraph/sync/aggregate"
	"caregraph/web"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"
)

// app is what the HTTP handlers share.
type app struct {
	cfg        config
	logger     *slog.Logger
	pool       *pgxpool.Pool
	store      *store.Store
	boundaries *store.BoundaryCache
	locator    *store.AreaLocator
	registry   *prometheus.Registry
	auth       *auth.Service
	limits     *limits
	// submissions takes audit CSV uploads (http_submissions.go).
	submissions *submissions.Service
	// aggregator recomputes a unit's KPIs in the background after its upload is
	// activated; wait for it before closing the pool.
	aggregator *aggregate.Aggregator
}

func newApp(cfg config, logger *slog.Logger, pool *pgxpool.Pool) *app {
	st := store.New(pool)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newPoolCollector(pool))
	agg := newAggregator(st, logger)
	return &app{
		cfg:        cfg,
		logger:     logger,
		pool:       pool,
		store:      st,
		boundaries: store.NewBoundaryCache(st, 5*time.Second),
		locator: store.NewAreaLocator(st, 5*time.Second, func(err error) {
			logger.Error("area locator", "error", err)
		}),
		registry: reg,
		auth:     auth.NewService(st, cfg.authOptions(logger)),
		limits:   newLimits(cfg),

		submissions: submissions.New(st, submissions.Options{Logger: logger, OnActivated: agg.AfterActivation}),
		aggregator:  agg,
	}
}

// routes builds the HTTP handler: GraphQL, playground, boundaries, health and metrics,
// each instrumented, behind a request timeout.
func (a *app) routes() http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caregraph_http_requests_total", Help: "HTTP requests by handler and status code.",
	}, []string{"handler", "code"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "caregraph_http_request_duration_seconds", Help: "HTTP request durations by handler.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"handler"})
	a.registry.MustRegister(requests, durations)
	instrument := func(name string, h http.Handler) http.Handler {
		return promhttp.InstrumentHandlerDuration(durations.MustCurryWith(prometheus.Labels{"handler": name}),
			promhttp.InstrumentHandlerCounter(requests.MustCurryWith(prometheus.Labels{"handler": name}), h))
	}

	mux := http.NewServeMux()
	gql := graph.WithLoaders(a.store, a.graphqlHandler())
	mux.Handle("/graphql", instrument("graphql", gzhttp.GzipHandler(a.gate(gql))))
	mux.Handle("GET /boundaries/{file}", instrument("boundaries", http.HandlerFunc(a.serveBoundaries)))
	a.submissionRoutes(mux, instrument)
	mux.Handle("GET /healthz", instrument("healthz", http.HandlerFunc(a.healthz)))
	mux.Handle("GET /readyz", instrument("readyz", http.HandlerFunc(a.readyz)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}))
	if a.cfg.Playground {
		mux.Handle("/", instrument("playground", gzhttp.GzipHandler(web.Handler("/graphql"))))
	} else {
		mux.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "caregraph GraphQL API: POST /graphql (the playground is switched off)", http.StatusNotFound)
		}))
	}
	return a.withTimeout(mux)
}

func (a *app) graphqlHandler() http.Handler {
	resolver := &graph.Resolver{Store: a.store, BoundaryCache: a.boundaries, AreaLocator: a.locator, Auth: a.auth, Uploads: a.submissions,
		Related: graph.NewRelatedCache()}
	es := generated.NewExecutableSchema(generated.Config{
		Resolvers:  resolver,
		Directives: generated.DirectiveRoot{Prefetched: resolver.Prefetched},
		Complexity: graph.Complexity(),
	})
	srv := handler.New(es)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	// Audit CSV uploads (submitAuditCsv): the GraphQL multipart request spec.
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: maxUploadBody, MaxMemory: uploadMemory})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(graph.DepthLimit{Max: a.cfg.MaxDepth})
	srv.Use(extension.FixedComplexityLimit(a.cfg.MaxComplexity))
	srv.SetErrorPresenter(graph.ErrorPresenter(a.logger))
	srv.SetRecoverFunc(graph.RecoverFunc(a.logger))
	return srv
}

// withTimeout bounds every request; the context carries the deadline to PostgreSQL,
// which cancels the query when the client goes away or time runs out.
func (a *app) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *app) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 when the database is reachable and fully migrated.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	v, err := migrations.Current(ctx, a.pool)
	if err != nil {
		a.logger.WarnContext(ctx, "readiness check failed", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "database unreachable")
		return
	}
	if want := migrations.Latest(); v < want {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "database schema at version %d, want %d\n", v, want)
		return
	}
	fmt.Fprintln(w, "ready")
}

// serveBoundaries serves GET /boundaries/{kind}.geojson?zoom=N: the same FeatureCollection
// as the GraphQL boundaries query, from the cache, pre-compressed, with an ETag.
func (a *app) serveBoundaries(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".geojson")
	kind := store.AreaKind(strings.ToLower(name))
	if !ok || !kind.Valid() {
		http.Error(w, "not found: use /boundaries/{kind}.geojson with kind one of country, nhs_england_region, integrated_care_board, local_health_board, london_borough", http.StatusNotFound)
		return
	}
	var zoom *int
	if z := r.URL.Query().Get("zoom"); z != "" {
		n, err := strconv.Atoi(z)
		if err != nil || n < 0 || n > gis.MaxZoom {
			http.Error(w, fmt.Sprintf("bad zoom %q: want a whole number from 0 to %d", z, gis.MaxZoom), http.StatusBadRequest)
			return
		}
		zoom = &n
	}
	doc, err := a.boundaries.Get(r.Context(), kind, gis.DetailLevel(zoom))
	if err != nil {
		if err == store.ErrNotFound {
			http.Error(w, "this layer has not been imported", http.StatusNotFound)
			return
		}
		a.logger.ErrorContext(r.Context(), "serve boundaries", "kind", kind, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("ETag", doc.ETag)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Vary", "Accept-Encoding")
	h.Set("Content-Type", "application/geo+json")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, doc.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := doc.JSON
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = doc.Gzip
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// poolCollector exports the connection pool's statistics.
type poolCollector struct {
	pool                         *pgxpool.Pool
	total, idle, acquired, waits *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	return &poolCollector{
		pool:     pool,
		total:    prometheus.NewDesc("caregraph_db_connections", "Open database connections.", nil, nil),
		idle:     prometheus.NewDesc("caregraph_db_connections_idle", "Idle database connections.", nil, nil),
		acquired: prometheus.NewDesc("caregraph_db_connections_acquired", "Database connections in use.", nil, nil),
		waits:    prometheus.NewDesc("caregraph_db_acquire_waits_total", "Times a request waited for a database connection.", nil, nil),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.total
	ch <- c.idle
	ch <- c.acquired
	ch <- c.waits
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
}
