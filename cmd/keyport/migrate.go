package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyport/keyport/db"
)

func cmdMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "migrate", "migrate [--database-url URL] up|status\n\n  up      apply every pending migration (safe to run twice, or from two hosts at once)\n  status  print the applied and the expected schema version; exit 1 when behind")
	dbURL := fs.String("database-url", "", "PostgreSQL URL (env KEYPORT_DATABASE_URL)")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	url := *dbURL
	if url == "" {
		url = e.getenv("KEYPORT_DATABASE_URL")
	}
	if url == "" {
		return usageError(errors.New("KEYPORT_DATABASE_URL: required (a postgres:// URL)"))
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError(errors.New("migrate: want exactly one of: up, status"))
	}
	octx, cancel := context.WithTimeout(ctx, dbOpenTimeout)
	defer cancel()
	switch fs.Arg(0) {
	case "up":
		st, err := db.Migrate(ctx, url)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "schema at version %d (latest)\n", st.Current)
		return nil
	case "status":
		pool, err := db.Open(octx, url)
		if err != nil {
			return fmt.Errorf("KEYPORT_DATABASE_URL: %w", err)
		}
		defer pool.Close()
		st, err := db.Status(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "schema at version %d of %d\n", st.Current, st.Want)
		if !st.UpToDate() {
			return &exitError{code: 1, err: errors.New("pending migrations: run 'keyport migrate up'")}
		}
		return nil
	default:
		return usageError(fmt.Errorf("migrate: unknown action %q, want up or status", fs.Arg(0)))
	}
}
