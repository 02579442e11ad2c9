package main

import (
	"context"
	"fmt"

	"caregraph/migrations"
)

func cmdMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "migrate", "migrate\n\nApplies every pending database migration (each in its own transaction) and reports\nthe schema version. Safe to run while other replicas start: they wait on a lock.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := openDatabase(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	applied, err := migrations.Up(ctx, db.Pool)
	for _, name := range applied {
		fmt.Fprintf(e.stderr, "applied %s\n", name)
	}
	if err != nil {
		return err
	}
	v, err := migrations.Current(ctx, db.Pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "schema at version %d (%d applied now)\n", v, len(applied))
	return nil
}
