package main

import (
	"context"
	"fmt"

	"caregraph/server/pgcluster"
)

func cmdCluster(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "cluster", "cluster [--dir DIR] [--throwaway] start|stop|url\n\nManages the private PostgreSQL cluster the server starts when DATABASE_URL is unset:\n'start' starts it (creating it when new) and leaves it running, printing its\nDATABASE_URL; 'stop' stops it; 'url' prints the DATABASE_URL. make test uses this\nwith a throwaway cluster.")
	dir := fs.String("dir", e.cfg.ClusterDir, "cluster folder (CAREGRAPH_PG_DIR)")
	throwaway := fs.Bool("throwaway", false, "turn durability off (fsync) for a test cluster")
	dbname := fs.String("db", "caregraph", "database to create on start and name in the URL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: want one of start, stop, url", errUsage)
	}
	c, err := pgcluster.New(pgcluster.Options{Dir: *dir, Throwaway: *throwaway, Logger: e.logger})
	if err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "start":
		if err := c.Start(ctx); err != nil {
			return err
		}
		if err := c.EnsureDatabase(ctx, *dbname); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, c.URL(*dbname))
	case "stop":
		return c.StopAlways(ctx)
	case "url":
		fmt.Fprintln(e.stdout, c.URL(*dbname))
	default:
		return fmt.Errorf("%w: unknown cluster action %q (want start, stop or url)", errUsage, fs.Arg(0))
	}
	return nil
}
