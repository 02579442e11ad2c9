package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// QueryRowForTest lets tests read the session a Store runs on (inside its transaction).
func (s *Store) QueryRowForTest(ctx context.Context, sql string, args ...any) pgx.Row {
	return s.db.QueryRow(ctx, sql, args...)
}
