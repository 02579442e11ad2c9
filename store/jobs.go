package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrLocked is returned by TryLockJob when another process holds the job's lock.
var ErrLocked = errors.New("locked by another process")

// JobTrigger says what started a job run.
type JobTrigger string

// The triggers.
const (
	TriggerSchedule JobTrigger = "schedule"
	TriggerManual   JobTrigger = "manual"
)

// JobOutcome is how a job run ended.
type JobOutcome string

// The outcomes; a run is 'running' until it finishes.
const (
	OutcomeRunning   JobOutcome = "running"
	OutcomeSucceeded JobOutcome = "succeeded"
	OutcomeFailed    JobOutcome = "failed"
	OutcomeAbandoned JobOutcome = "abandoned"
)

// JobRun is one run of a job.
type JobRun struct {
	ID           int64
	Job          string
	Trigger      JobTrigger
	ScheduledFor *time.Time
	StartedAt    time.Time
	FinishedAt   *time.Time
	Outcome      JobOutcome
	Counts       map[string]int
	Error        *string
	Host         string
}

// JobLock is a PostgreSQL session advisory lock on one job, held on a connection of its
// own until Unlock.
type JobLock struct {
	conn *pgxpool.Conn
	job  string
}

type connAcquirer interface {
	Acquire(ctx context.Context) (*pgxpool.Conn, error)
}

// The key is a 64-bit hash of the job name in a namespace of our own, so that it cannot
// meet the migration lock or another application's locks by accident.
const sqlTryJobLock = `SELECT pg_try_advisory_lock(hashtextextended('caregraph.job:' || $1, 0))`

const sqlJobUnlock = `SELECT pg_advisory_unlock(hashtextextended('caregraph.job:' || $1, 0))`

// TryLockJob takes the advisory lock of job without waiting: ErrLocked when another
// session holds it. The store must run on a pool (a session lock needs its own
// connection for as long as it is held).
func (s *Store) TryLockJob(ctx context.Context, job string) (*JobLock, error) {
	pool, ok := s.db.(connAcquirer)
	if !ok {
		return nil, errors.New("lock job: the store runs inside a transaction; job locks need the pool")
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock job %s: %w", job, err)
	}
	var got bool
	if err := conn.QueryRow(ctx, sqlTryJobLock, job).Scan(&got); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock job %s: %w", job, err)
	}
	if !got {
		conn.Release()
		return nil, fmt.Errorf("job %s: %w", job, ErrLocked)
	}
	return &JobLock{conn: conn, job: job}, nil
}

// Unlock releases the lock. If the unlock statement fails the connection is closed
// rather than returned to the pool, since closing the session is what frees the lock.
func (l *JobLock) Unlock(ctx context.Context) error {
	if l == nil || l.conn == nil {
		return nil
	}
	conn := l.conn
	l.conn = nil
	var released bool
	err := conn.QueryRow(ctx, sqlJobUnlock, l.job).Scan(&released)
	if err != nil || !released {
		raw := conn.Hijack()
		_ = raw.Close(context.WithoutCancel(ctx))
		if err == nil {
			err = fmt.Errorf("unlock job %s: the lock was not held", l.job)
		}
		return fmt.Errorf("unlock job %s: %w", l.job, err)
	}
	conn.Release()
	return nil
}

const sqlAbandonRuns = `
UPDATE job_runs SET outcome = 'abandoned', finished_at = now(),
    error = 'the process running it stopped before it finished'
WHERE job = $1 AND outcome = 'running'`

// AbandonJobRuns marks the runs of job still 'running' as abandoned. Call it only while
// holding the job's lock: nobody else can then be running it.
func (s *Store) AbandonJobRuns(ctx context.Context, job string) (int64, error) {
	tag, err := s.db.Exec(ctx, sqlAbandonRuns, job)
	if err != nil {
		return 0, fmt.Errorf("abandon runs of %s: %w", job, err)
	}
	return tag.RowsAffected(), nil
}

const sqlStartJobRun = `
INSERT INTO job_runs (job, trigger, scheduled_for, outcome, host)
VALUES ($1, $2, $3, 'running', $4)
ON CONFLICT (job, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING
RETURNING id`

// StartJobRun records the start of a run. A scheduled run names the schedule tick it
// runs for; when another replica has already claimed that tick the answer is
// ErrConflict and the run must not happen.
func (s *Store) StartJobRun(ctx context.Context, job string, trigger JobTrigger, scheduledFor *time.Time, host string) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, sqlStartJobRun, job, trigger, scheduledFor, host).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) && scheduledFor != nil {
		return 0, fmt.Errorf("job %s at %s: %w: the tick ran elsewhere", job, scheduledFor.UTC().Format(time.RFC3339), ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("start run of %s: %w", job, err)
	}
	return id, nil
}

const sqlFinishJobRun = `
UPDATE job_runs SET finished_at = now(), outcome = $2, counts = $3, error = $4
WHERE id = $1 AND outcome = 'running'`

// FinishJobRun records how a run ended.
func (s *Store) FinishJobRun(ctx context.Context, id int64, outcome JobOutcome, counts map[string]int, errText *string) error {
	if counts == nil {
		counts = map[string]int{}
	}
	tag, err := s.db.Exec(ctx, sqlFinishJobRun, id, outcome, counts, errText)
	if err != nil {
		return fmt.Errorf("finish job run %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish job run %d: %w (or it was marked abandoned)", id, ErrNotFound)
	}
	return nil
}

const jobRunColumns = `id, job, trigger, scheduled_for, started_at, finished_at, outcome, counts, error, host`

func scanJobRun(row pgx.CollectableRow) (JobRun, error) {
	var r JobRun
	err := row.Scan(&r.ID, &r.Job, &r.Trigger, &r.ScheduledFor, &r.StartedAt, &r.FinishedAt, &r.Outcome, &r.Counts, &r.Error, &r.Host)
	return r, err
}

const sqlJobRuns = `
SELECT ` + jobRunColumns + `
FROM job_runs
WHERE ($1 = '' OR job = $1)
ORDER BY started_at DESC, id DESC
LIMIT $2`

// JobRuns returns the latest limit runs, of one job or (job empty) of all, newest first.
func (s *Store) JobRuns(ctx context.Context, job string, limit int) ([]JobRun, error) {
	rows, err := s.db.Query(ctx, sqlJobRuns, job, limit)
	if err != nil {
		return nil, fmt.Errorf("job runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, scanJobRun)
	if err != nil {
		return nil, fmt.Errorf("job runs: %w", err)
	}
	return runs, nil
}

// JobRunsByID returns the runs with the given ids.
func (s *Store) JobRunsByID(ctx context.Context, ids []int64) ([]JobRun, error) {
	rows, err := s.db.Query(ctx, `SELECT `+jobRunColumns+` FROM job_runs WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("job runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, scanJobRun)
	if err != nil {
		return nil, fmt.Errorf("job runs: %w", err)
	}
	return runs, nil
}
