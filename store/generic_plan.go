package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Some statements of the organisation register are large (a dozen joins over the
// history tables) and cost PostgreSQL more to plan than to run: the 339-site list took
// 5–9 ms to plan and 8–12 ms to run, planned afresh on every call because for a
// prepared statement PostgreSQL keeps choosing a custom plan when its estimate beats the
// generic one. Their parameters (a date, kinds, a limit) do not change the best plan, so
// they are run with the generic plan, cached on the connection after its first use.
//
// Others go wrong the opposite way. A lookup by a list of keys cannot know in its
// generic plan how many keys it will get; PostgreSQL assumes a handful, plans lookups
// key by key, and after five calls settles on that plan because its estimate is cheap.
// For the hundreds of keys of a long list the plan of the actual keys (hash joins over
// the small tables) runs in half the time, planning included; those statements are
// always planned for their keys.
//
// The setting is made with set_config(…, true) in the same batch as the statement: a
// batch is one implicit transaction, so the setting ends with it and never leaks to the
// next user of the connection.
const sqlSetPlanMode = `SELECT set_config('plan_cache_mode', $1, true)`

// planMode is a value of PostgreSQL's plan_cache_mode.
type planMode string

const (
	genericPlan planMode = "force_generic_plan"
	customPlan  planMode = "force_custom_plan"
)

// manyKeys is where a lookup by keys is better planned for its keys: below it the
// generic plan's key-by-key lookups win (0.15 ms for one unit against 0.65 ms of
// planning), above it the custom plan's hash joins (1.5 ms for the 173 units, planning
// included, against 2.5 ms).
const manyKeys = 64

// planForKeys is the plan cache mode for a lookup of n keys.
func planForKeys(n int) planMode {
	if n > manyKeys {
		return customPlan
	}
	return genericPlan
}

// queryGenericPlan runs a query with PostgreSQL's generic plan (see queryPlanned).
func (s *Store) queryGenericPlan(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return s.queryPlanned(ctx, genericPlan, sql, args...)
}

// queryPlanned runs a query with the plan cache mode given. The caller closes the rows,
// which also ends the batch. Inside a transaction the setting would last until the
// transaction ends and reach its later statements, so there the query runs as any other.
func (s *Store) queryPlanned(ctx context.Context, mode planMode, sql string, args ...any) (pgx.Rows, error) {
	if _, inTx := s.db.(pgx.Tx); inTx {
		return s.db.Query(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sqlSetPlanMode, string(mode))
	b.Queue(sql, args...)
	br := s.db.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// queryRowGenericPlan is queryGenericPlan for a statement of one row; Scan returns
// pgx.ErrNoRows when there is none.
func (s *Store) queryRowGenericPlan(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := s.queryGenericPlan(ctx, sql, args...)
	return oneRow{rows: rows, err: err}
}

type oneRow struct {
	rows pgx.Rows
	err  error
}

func (r oneRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// batchRows are the rows of the last statement of a batch: closing them closes the
// batch too.
type batchRows struct {
	pgx.Rows
	br       pgx.BatchResults
	closeErr error
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.closeErr
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br == nil {
		return
	}
	if err := r.br.Close(); err != nil {
		r.closeErr = err
	}
	r.br = nil
}
