package main

import (
	"context"
	"fmt"
	"os"

	"caregraph/store"
	"caregraph/sync/nhsdd"
	"caregraph/sync/ods"
	"caregraph/sync/rcpch"
	"caregraph/sync/schedule"

	"github.com/jackc/pgx/v5/pgxpool"
)

// startScheduler registers the scheduled jobs and starts them. Jobs coordinate through
// the database, so every replica can run the same scheduler: each tick runs once. Other
// jobs (the audit aggregation, the ODS sync) register here too.
func startScheduler(e env, pool *pgxpool.Pool) (*schedule.Scheduler, error) {
	st := store.New(pool)
	host, _ := os.Hostname()
	s, err := schedule.New(schedule.Options{Store: st, Logger: e.logger, Host: fmt.Sprintf("%s/%d", host, os.Getpid())})
	if err != nil {
		return nil, err
	}
	e.logger.Info("dataset syncs", e.cfg.datasetsLogAttrs()...)
	client := newFetchClient(e)
	nhs := &nhsdd.Syncer{Store: st, Client: client, BaseURL: e.cfg.NHSDDBaseURL, Actor: store.Actor{Name: "scheduled nhs-dd sync"}}
	if err := s.Register(jobNHSDD, e.cfg.ScheduleNHSDD, func(ctx context.Context) (map[string]int, error) {
		rep, err := nhs.Run(ctx, nhsdd.Options{})
		if rep == nil {
			return nil, err
		}
		return logRun(e, jobNHSDD, rep, err)
	}); err != nil {
		_ = s.Shutdown()
		return nil, err
	}
	rc := &rcpch.Syncer{Store: st, Client: client, BaseURL: e.cfg.ExternalAPIURL, APIKey: e.cfg.ExternalAPIKey,
		Actor: store.Actor{Name: "scheduled rcpch sync"}}
	if err := s.Register(jobRCPCH, e.cfg.ScheduleRCPCH, func(ctx context.Context) (map[string]int, error) {
		rep, err := rc.Run(ctx, rcpch.Options{})
		if rep == nil {
			return nil, err
		}
		return logRun(e, jobRCPCH, rep, err)
	}); err != nil {
		_ = s.Shutdown()
		return nil, err
	}
	e.logger.Info("ods sync", e.cfg.odsLogAttrs()...)
	odsSync := &ods.Syncer{Store: st, Source: e.odsSource()}
	if err := s.Register(jobODS, e.cfg.ScheduleODS, func(ctx context.Context) (map[string]int, error) {
		rep, err := odsSync.Run(ctx, ods.Options{})
		if rep == nil {
			return nil, err
		}
		return logRun(e, jobODS, rep, err)
	}); err != nil {
		_ = s.Shutdown()
		return nil, err
	}
	if err := registerKPIAggregation(e, s, st); err != nil {
		_ = s.Shutdown()
		return nil, err
	}
	s.Start()
	return s, nil
}

// logRun logs a scheduled sync's summary and returns what the job records.
func logRun(e env, job string, rep syncReport, err error) (map[string]int, error) {
	e.logger.Info("sync finished", "job", job, "summary", rep.Summary())
	if err != nil {
		return rep.Counts(), err
	}
	return rep.Counts(), rep.Err()
}
