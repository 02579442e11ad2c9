package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"caregraph/shapefiles"
	"caregraph/store"
)

func cmdServe(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "serve", "[serve]\n\nStarts caregraph: migrates the database, imports missing boundary layers on first\nstart, then serves POST /graphql, the playground at /, /boundaries/{kind}.geojson,\n/healthz, /readyz and /metrics until interrupted.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	started := time.Now()
	tuneGC()
	e.logger.Info("starting caregraph", e.cfg.logAttrs()...)
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	cleanUpInterruptedUploads(ctx, e, db.Pool, started)
	if e.cfg.AutoImport {
		if err := importMissingLayers(ctx, e, store.New(db.Pool)); err != nil {
			return err
		}
		// After the boundaries: seeding places the sites in them.
		seedIfEmpty(ctx, e, store.New(db.Pool))
	}
	sched, err := startScheduler(e, db.Pool)
	if err != nil {
		return err
	}
	// Deferred after the database's Close, so it runs first: running jobs are
	// cancelled and recorded before the pool goes away.
	defer func() {
		if err := sched.Shutdown(); err != nil {
			e.logger.Error("stop scheduler", "error", err)
		}
	}()
	a := newApp(e.cfg, e.logger, db.Pool)
	// Before the pool closes: a unit's KPI recompute started by an upload finishes.
	defer a.aggregator.Wait()
	srv := &http.Server{
		Addr:              e.cfg.Addr,
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       e.cfg.RequestTimeout,
		WriteTimeout:      e.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.cfg.Addr, err)
	}
	e.logger.Info("serving", "addr", ln.Addr().String(), "playground", "http://"+displayAddr(ln.Addr())+"/")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	e.logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// importMissingLayers imports the layers that have never been imported, so that a first
// start serves boundaries and later starts change nothing.
func importMissingLayers(ctx context.Context, e env, st *store.Store) error {
	m, err := shapefiles.LoadManifest()
	if err != nil {
		return err
	}
	have, err := st.BoundaryLayers(ctx)
	if err != nil {
		return err
	}
	imported := map[store.AreaKind]bool{}
	for _, l := range have {
		imported[l.Kind] = true
	}
	var missing []shapefiles.Layer
	for _, l := range m.Layers {
		if !imported[l.Kind] {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	e.logger.Info("importing boundary layers on first start", "layers", len(missing), "data_dir", e.cfg.DataDir)
	if _, err := shapefiles.ImportAll(ctx, st, missing, e.cfg.DataDir, e.stderr); err != nil {
		// Serving without boundaries is still useful; the operator sees why and can import later.
		e.logger.Error("boundary import failed; serving without those layers (run `server import-shapefiles` once the files are in place)", "error", err)
	}
	return nil
}

func displayAddr(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return a.String()
}
