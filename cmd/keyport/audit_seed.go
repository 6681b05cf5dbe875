package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

const seedUsage = `audit seed --events N [--i-know-this-is-dev] [--seed S]

Appends N synthetic, correctly chained events (spread over the last 30
days) for development and benchmarks. Refused unless the database is on
this machine (loopback host or a Unix socket) AND development is declared:
KEYPORT_DEV=1 in the environment or --i-know-this-is-dev. Both, because a
loopback URL alone can be an SSH tunnel to production.`

// cmdAuditSeed is `keyport audit seed`: synthetic events, development only.
func cmdAuditSeed(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "audit seed", seedUsage)
	n := fs.Int("events", 0, "how many events to append (required, at most 50 000 000)")
	seedFlag := fs.Uint64("seed", 1, "random seed (the same seed gives the same events)")
	dev := fs.Bool("i-know-this-is-dev", false, "declare this a development database (or set KEYPORT_DEV=1)")
	src := registerTrail(fs, e)
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if *n <= 0 || *n > 50_000_000 || fs.NArg() != 0 {
		return usageError(errors.New("audit seed: --events N is required (1 to 50 000 000)"))
	}
	cfg, err := src.Load()
	if err != nil {
		return usageError(err)
	}
	if err := devOnly(cfg.DatabaseURL.Reveal(), *dev || e.getenv("KEYPORT_DEV") == "1"); err != nil {
		return usageError(err)
	}
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	start := time.Now()
	written, err := audit.Seed(ctx, pool, *n, *seedFlag, start)
	if err != nil {
		return err
	}
	if err := w.Record(ctx, audit.Event{Actor: audit.Actor{Kind: kp.ActorSystem, UserID: "keyport audit seed", Name: "command line"},
		Action: kp.AuditSeed, Details: audit.Details{Count: int64(written)}}, audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %d events in %s\n", written, time.Since(start).Round(time.Millisecond))
	return nil
}

// devOnly refuses a database that is not on this machine, or any database
// when development was not declared.
func devOnly(databaseURL string, declared bool) error {
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		return errors.New("KEYPORT_DATABASE_URL: invalid connection string")
	}
	local := strings.HasPrefix(cfg.Host, "/") || cfg.Host == "localhost"
	if ip, err := netip.ParseAddr(cfg.Host); err == nil && ip.IsLoopback() {
		local = true
	}
	for _, fb := range cfg.Fallbacks {
		if !strings.HasPrefix(fb.Host, "/") && fb.Host != "localhost" {
			if ip, err := netip.ParseAddr(fb.Host); err != nil || !ip.IsLoopback() {
				local = false
			}
		}
	}
	switch {
	case !local:
		return fmt.Errorf("audit seed: refused: the database host %q is not this machine; seeding is for development databases only", cfg.Host)
	case !declared:
		return errors.New("audit seed: refused: declare a development database with KEYPORT_DEV=1 or --i-know-this-is-dev")
	}
	return nil
}
