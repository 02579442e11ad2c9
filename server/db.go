package main

import (
	"context"
	"log/slog"

	"caregraph/migrations"
	"caregraph/server/pgcluster"
	"caregraph/store"

	"github.com/jackc/pgx/v5/pgxpool"
)

// database is an open pool and, when DATABASE_URL is unset, the private cluster behind it.
type database struct {
	Pool    *pgxpool.Pool
	cluster *pgcluster.Cluster
	logger  *slog.Logger
}

// openMigrated opens the database, as openDatabase does, and brings its schema up to
// date: what every command that reads or writes data does first.
func openMigrated(ctx context.Context, e env) (*database, error) {
	db, err := openDatabase(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx, e); err != nil {
		db.Close(ctx)
		return nil, err
	}
	return db, nil
}

// openDatabase connects to DATABASE_URL, or starts (or reuses) the private cluster in
// cfg.ClusterDir and connects to its caregraph database.
func openDatabase(ctx context.Context, e env) (*database, error) {
	db := &database{logger: e.logger}
	url := e.cfg.DatabaseURL
	if url == "" {
		c, err := pgcluster.New(pgcluster.Options{Dir: e.cfg.ClusterDir, Logger: e.logger})
		if err != nil {
			return nil, err
		}
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		db.cluster = c
		if err := c.EnsureDatabase(ctx, "caregraph"); err != nil {
			db.Close(ctx)
			return nil, err
		}
		url = c.URL("caregraph")
	}
	pool, err := store.Connect(ctx, url, store.PoolConfig{MaxConns: e.cfg.DBMaxConns})
	if err != nil {
		db.Close(ctx)
		return nil, err
	}
	db.Pool = pool
	return db, nil
}

// migrate applies pending migrations and logs what it applied.
func (db *database) migrate(ctx context.Context, e env) error {
	applied, err := migrations.Up(ctx, db.Pool)
	if err != nil {
		return err
	}
	for _, name := range applied {
		e.logger.Info("applied migration", "name", name)
	}
	return nil
}

// Close closes the pool and stops the private cluster if this process started it.
func (db *database) Close(ctx context.Context) {
	if db.Pool != nil {
		db.Pool.Close()
	}
	if db.cluster != nil {
		if err := db.cluster.Stop(context.WithoutCancel(ctx)); err != nil {
			db.logger.Error("stop private PostgreSQL cluster", "error", err)
		}
	}
}
