package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/logging"
)

func cmdAudit(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "seed" {
		return cmdAuditSeed(ctx, e, args[1:])
	}
	fs := newFlagSet(e, "audit", "audit [flags] verify|checkpoint\n\n  verify      check every event's hash and link and every signed checkpoint;\n              prints \"verified N events, head <hash>\" or the first broken event (exit 1)\n  checkpoint  sign and store the current chain head now\n  seed        (development only) append synthetic events: audit seed --events N; see audit seed --help\n\nNeeds KEYPORT_DATABASE_URL and KEYPORT_AUDIT_KEY (the other keys are not read).")
	dbURL := fs.String("database-url", "", "PostgreSQL URL (env KEYPORT_DATABASE_URL)")
	keyFile := fs.String("audit-key-file", "", "file holding the audit key (env KEYPORT_AUDIT_KEY)")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError(errors.New("audit: want exactly one of: verify, checkpoint"))
	}
	action := fs.Arg(0)
	if action != "verify" && action != "checkpoint" {
		return usageError(fmt.Errorf("audit: unknown action %q, want verify or checkpoint", action))
	}
	cfg, err := loadAuditConfig(e, *dbURL, *keyFile)
	if err != nil {
		return usageError(err)
	}
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	switch action {
	case "checkpoint":
		c, err := w.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if c == nil {
			fmt.Fprintln(e.stdout, "nothing new since the last checkpoint")
			return nil
		}
		fmt.Fprintf(e.stdout, "checkpoint %d: %d events, head %x\n", c.ID, c.EventCount, c.LastHash)
		return nil
	default:
		rep, err := audit.Verify(ctx, pool, w.Keys(), nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, rep.String())
		if !rep.OK() {
			return &exitError{code: 1}
		}
		return nil
	}
}

// loadAuditConfig reads only what the audit tools need, so an auditor's
// machine needs no session or encryption key.
func loadAuditConfig(e env, dbURL, keyFile string) (config.Config, error) {
	var errs []error
	var c config.Config
	u := dbURL
	if u == "" {
		u = e.getenv("KEYPORT_DATABASE_URL")
	}
	if u == "" {
		errs = append(errs, errors.New("KEYPORT_DATABASE_URL: required (a postgres:// URL)"))
	}
	c.DatabaseURL = secretOf(u)
	raw := e.getenv("KEYPORT_AUDIT_KEY")
	if keyFile != "" {
		b, err := readKeyFile(keyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("KEYPORT_AUDIT_KEY: %w", err))
		}
		raw = b
	}
	k, err := config.ParseKey(raw)
	if err != nil {
		errs = append(errs, fmt.Errorf("KEYPORT_AUDIT_KEY: %w", err))
	}
	c.AuditKey = k
	return c, errors.Join(errs...)
}

// openTrail opens a database with a current schema and an audit writer
// whose keys derive from cfg's audit key, for the commands that write to
// or check the trail.
func openTrail(ctx context.Context, e env, cfg config.Config) (*pgxpool.Pool, *audit.Writer, error) {
	keys, err := audit.DeriveKeys(cfg.AuditKey)
	if err != nil {
		return nil, nil, usageError(fmt.Errorf("KEYPORT_AUDIT_KEY: %w", err))
	}
	pool, err := openCurrent(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return pool, audit.NewWriter(pool, keys, logging.New(e.stderr, "text", nil)), nil
}
