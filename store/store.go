// Package store holds all SQL of caregraph, one file per aggregate. Methods take a
// context first and run on a pool or, through WithTx, inside a transaction.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write clashes with existing data.
var ErrConflict = errors.New("conflict")

// DB is what the store runs statements on: a *pgxpool.Pool or a pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store runs caregraph's SQL.
type Store struct {
	db DB
}

// New returns a store over db.
func New(db DB) *Store { return &Store{db: db} }

// InTx runs fn with a store bound to one transaction, committed when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return fn(&Store{db: tx}) })
}

// PoolConfig tunes Connect.
type PoolConfig struct {
	MaxConns int32
	// StatementTimeout bounds every statement on the server side; 0 leaves the default.
	StatementTimeout time.Duration
	// Tracer, when set, sees every statement (tests count them with it).
	Tracer pgx.QueryTracer
}

// Connect opens a pool to url and pings it.
func Connect(ctx context.Context, url string, pc PoolConfig) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if pc.MaxConns > 0 {
		cfg.MaxConns = pc.MaxConns
	}
	if pc.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(pc.StatementTimeout.Milliseconds())
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "caregraph"
	if pc.Tracer != nil {
		cfg.ConnConfig.Tracer = pc.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reach database: %w", err)
	}
	return pool, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// collectByKey reads the rows of a batch lookup into a map by key (rows and err as
// Query returned them); what names the lookup in errors.
func collectByKey[K comparable, T any](rows pgx.Rows, err error, what string, scan pgx.RowToFunc[T], key func(T) K) (map[K]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	items, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := make(map[K]T, len(items))
	for _, it := range items {
		out[key(it)] = it
	}
	return out, nil
}
