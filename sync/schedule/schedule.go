// Package schedule runs caregraph's jobs inside the server with gocron. However many
// replicas run, each tick of a job's schedule runs once: a PostgreSQL advisory lock
// keeps two runs of a job from overlapping, and claiming the tick in job_runs (unique
// per job and tick) keeps a replica whose timer fired a moment later from running the
// same tick again after the first run let go of the lock. Every run, scheduled or
// manual, is recorded in job_runs with its start, end, outcome, counts and error.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"caregraph/store"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
)

// JobFunc is the work of a job. Its context is cancelled when the server shuts down;
// the counts it returns are recorded with the run, whether it fails or not.
type JobFunc func(ctx context.Context) (counts map[string]int, err error)

// Off disables a job when given as its schedule.
const Off = "off"

// Options configure a Scheduler.
type Options struct {
	Store  *store.Store
	Logger *slog.Logger
	// Host names this replica in job_runs (host name and process id by default).
	Host string
	// StopTimeout is how long Shutdown waits for running jobs (30s).
	StopTimeout time.Duration
}

// Scheduler runs registered jobs on their schedules.
type Scheduler struct {
	gs     gocron.Scheduler
	store  *store.Store
	logger *slog.Logger
	host   string

	mu   sync.Mutex
	jobs map[string]*job
}

type job struct {
	name string
	spec string
	cron gocron.Cron
	fn   JobFunc

	mu sync.Mutex
	// runID is the job_runs row the locker claimed for the run about to start; the
	// job's singleton mode means there is never more than one per process.
	runID int64
}

// New returns a stopped scheduler that runs jobs in UTC.
func New(o Options) (*Scheduler, error) {
	if o.Store == nil {
		return nil, errors.New("schedule: a store is required")
	}
	s := &Scheduler{store: o.Store, logger: o.Logger, host: o.Host, jobs: map[string]*job{}}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.host == "" {
		h, _ := os.Hostname()
		s.host = fmt.Sprintf("%s/%d", h, os.Getpid())
	}
	stop := o.StopTimeout
	if stop <= 0 {
		stop = 30 * time.Second
	}
	gs, err := gocron.NewScheduler(
		gocron.WithLocation(time.UTC),
		gocron.WithDistributedLocker(&locker{s: s}),
		gocron.WithStopTimeout(stop),
	)
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	s.gs = gs
	return s, nil
}

// Register adds a job under name with a cron schedule: five fields (minute hour
// day-of-month month day-of-week, in UTC), or six with seconds first, or a descriptor
// such as @daily; "off" registers nothing. The audit and ODS syncs register here too.
func (s *Scheduler) Register(name, spec string, fn JobFunc) error {
	spec = strings.TrimSpace(spec)
	if strings.EqualFold(spec, Off) {
		s.logger.Info("job disabled", "job", name)
		return nil
	}
	if name == "" || fn == nil {
		return errors.New("schedule: a job needs a name and a function")
	}
	c, withSeconds, err := parseSpec(spec)
	if err != nil {
		return fmt.Errorf("schedule %s: %w", name, err)
	}
	j := &job{name: name, spec: spec, cron: c, fn: fn}
	s.mu.Lock()
	if _, dup := s.jobs[name]; dup {
		s.mu.Unlock()
		return fmt.Errorf("schedule: job %s registered twice", name)
	}
	s.jobs[name] = j
	s.mu.Unlock()
	_, err = s.gs.NewJob(
		gocron.CronJob(spec, withSeconds),
		gocron.NewTask(func(ctx context.Context) error { return s.run(ctx, j) }),
		gocron.WithName(name),
		// One run of a job at a time in this process; a tick that comes while it runs
		// is dropped (the run under way covers it).
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithEventListeners(
			gocron.AfterJobRunsWithError(func(_ uuid.UUID, name string, err error) {
				s.logger.Error("job failed", "job", name, "error", err)
			}),
			gocron.AfterLockError(func(_ uuid.UUID, name string, err error) {
				if errors.Is(err, store.ErrLocked) || errors.Is(err, store.ErrConflict) {
					// The normal case with several replicas: another one has the tick.
					s.logger.Debug("job tick taken elsewhere", "job", name, "reason", err)
					return
				}
				s.logger.Error("job could not start", "job", name, "error", err)
			}),
		),
	)
	if err != nil {
		s.mu.Lock()
		delete(s.jobs, name)
		s.mu.Unlock()
		return fmt.Errorf("schedule %s: %w", name, err)
	}
	next := j.cron.Next(time.Now().UTC())
	s.logger.Info("job scheduled", "job", name, "schedule", spec, "next_run", next.Format(time.RFC3339))
	return nil
}

// Validate checks a schedule as Register would read it ("off" included), for reading
// configuration before the scheduler exists.
func Validate(spec string) error {
	spec = strings.TrimSpace(spec)
	if strings.EqualFold(spec, Off) {
		return nil
	}
	_, _, err := parseSpec(spec)
	return err
}

// parseSpec validates a schedule the way gocron will read it, returning the parsed
// schedule for working out ticks. A schedule of six fields has seconds.
func parseSpec(spec string) (gocron.Cron, bool, error) {
	if strings.HasPrefix(spec, "@every") {
		return nil, false, errors.New("@every schedules drift with start times; use a cron expression")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, false, errors.New("schedules are in UTC; leave out the time zone")
	}
	withSeconds := len(strings.Fields(spec)) == 6
	c := gocron.NewDefaultCron(withSeconds)
	if err := c.IsValid(spec, time.UTC, time.Now()); err != nil {
		return nil, false, fmt.Errorf("%q is not a cron schedule (minute hour day-of-month month day-of-week, e.g. \"0 5 * * 0\"): %w", spec, err)
	}
	return c, withSeconds, nil
}

// Start starts running the jobs.
func (s *Scheduler) Start() { s.gs.Start() }

// Shutdown cancels the running jobs' contexts, waits for them to return (up to the stop
// timeout) and stops the scheduler.
func (s *Scheduler) Shutdown() error {
	if err := s.gs.Shutdown(); err != nil {
		return fmt.Errorf("schedule: shutdown: %w", err)
	}
	return nil
}

// Jobs lists the registered jobs and their schedules.
func (s *Scheduler) Jobs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.jobs))
	for n, j := range s.jobs {
		out[n] = j.spec
	}
	return out
}

// run is every job's task: it runs the job's function for the run the locker claimed
// and records how it ended.
func (s *Scheduler) run(ctx context.Context, j *job) error {
	j.mu.Lock()
	id := j.runID
	j.runID = 0
	j.mu.Unlock()
	if id == 0 {
		return fmt.Errorf("job %s: started without a claimed run", j.name)
	}
	return record(ctx, s.store, id, j.fn)
}

// record runs fn and writes its outcome to the run id, whatever happens, a panic
// included.
func record(ctx context.Context, st *store.Store, id int64, fn JobFunc) (err error) {
	var counts map[string]int
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job panicked: %v", p)
		}
		outcome := store.OutcomeSucceeded
		var msg *string
		if err != nil {
			outcome = store.OutcomeFailed
			m := err.Error()
			msg = &m
		}
		// The run's context may be cancelled (shutdown); the record must still be written.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ferr := st.FinishJobRun(wctx, id, outcome, counts, msg); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}()
	counts, err = fn(ctx)
	return err
}

// ErrRunning is returned by RunManual when the job is running elsewhere.
var ErrRunning = errors.New("already running")

// RunManual runs fn as a manual run of the job name, under the same lock as scheduled
// runs and recorded the same way: it fails with ErrRunning, at once, while another
// process runs the job.
func RunManual(ctx context.Context, st *store.Store, name, host string, fn JobFunc) (map[string]int, error) {
	lock, err := st.TryLockJob(ctx, name)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("job %s: %w in another process; try again when it has finished", name, ErrRunning)
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
	if _, err := st.AbandonJobRuns(ctx, name); err != nil {
		return nil, err
	}
	id, err := st.StartJobRun(ctx, name, store.TriggerManual, nil, host)
	if err != nil {
		return nil, err
	}
	var counts map[string]int
	err = record(ctx, st, id, func(ctx context.Context) (map[string]int, error) {
		c, err := fn(ctx)
		counts = c
		return c, err
	})
	return counts, err
}

// locker is the gocron.Locker: it takes the job's advisory lock and claims the tick.
type locker struct{ s *Scheduler }

// tickTolerance lets a timer that fires a hair before the tick still find it.
const tickTolerance = 50 * time.Millisecond

// tickLookback is how late a run may start and still be counted for its tick.
const tickLookback = 10 * time.Minute

func (l *locker) Lock(ctx context.Context, key string) (gocron.Lock, error) {
	s := l.s
	s.mu.Lock()
	j := s.jobs[key]
	s.mu.Unlock()
	if j == nil {
		return nil, fmt.Errorf("unknown job %q", key)
	}
	tick := latestTick(j.cron, time.Now().UTC())
	lock, err := s.store.TryLockJob(ctx, key)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.AbandonJobRuns(ctx, key); err != nil {
		_ = lock.Unlock(context.WithoutCancel(ctx))
		return nil, err
	}
	id, err := s.store.StartJobRun(ctx, key, store.TriggerSchedule, &tick, s.host)
	if err != nil {
		_ = lock.Unlock(context.WithoutCancel(ctx))
		return nil, err
	}
	j.mu.Lock()
	j.runID = id
	j.mu.Unlock()
	return &pgLock{lock: lock}, nil
}

type pgLock struct{ lock *store.JobLock }

func (l *pgLock) Unlock(ctx context.Context) error {
	return l.lock.Unlock(context.WithoutCancel(ctx))
}

// latestTick is the schedule's latest activation at or before now: the tick a run
// starting now belongs to, the same on every replica whatever its timer's delay.
func latestTick(c gocron.Cron, now time.Time) time.Time {
	limit := now.Add(tickTolerance)
	var tick time.Time
	for t := c.Next(now.Add(-tickLookback)); !t.IsZero() && !t.After(limit); t = c.Next(t) {
		tick = t
	}
	if tick.IsZero() {
		// Started later than the lookback allows: claim the second it started in.
		tick = now.Truncate(time.Second)
	}
	return tick
}
