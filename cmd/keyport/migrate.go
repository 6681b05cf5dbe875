package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/config"
)

func cmdMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "migrate", "migrate [--database-url URL] up|status\n\n  up      apply every pending migration (safe to run twice, or from two hosts at once)\n  status  print the applied and the expected schema version; exit 1 when behind")
	src := config.Register(fs, e.getenv, config.DatabaseURL)
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	cfg, err := src.Load()
	if err != nil {
		return usageError(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError(errors.New("migrate: want exactly one of: up, status"))
	}
	switch fs.Arg(0) {
	case "up":
		st, err := db.Migrate(ctx, cfg.DatabaseURL.Reveal())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "schema at version %d (latest)\n", st.Current)
		return nil
	case "status":
		pool, err := openDB(ctx, cfg)
		if err != nil {
			return err
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
