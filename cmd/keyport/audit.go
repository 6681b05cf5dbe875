package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/logging"
)

func cmdAudit(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "seed" {
		return cmdAuditSeed(ctx, e, args[1:])
	}
	if len(args) > 0 && args[0] == "archive" {
		return cmdAuditArchive(ctx, e, args[1:])
	}
	fs := newFlagSet(e, "audit", "audit [flags] verify|checkpoint|sinks|archive\n\n  verify      check every event's hash and link and every signed checkpoint;\n              prints \"verified N events, head <hash>\" or the first broken event (exit 1);\n              from the newest checkpoint an earlier run verified; --full: from the start;\n              --archive DIR: the archived months and the live trail as one chain\n  checkpoint  sign and store the current chain head now\n  sinks       each audit sink's cursor, lag and last error (KEYPORT_AUDIT_SINKS)\n  archive     move months older than KEYPORT_AUDIT_RETAIN to verifiable files: audit archive --help\n  seed        (development only) append synthetic events: audit seed --events N; see audit seed --help\n\nNeeds KEYPORT_DATABASE_URL and KEYPORT_AUDIT_KEY (the other keys are not read); without a database URL,\nrun where `make dev` runs, it reads both from .keyport/dev.env and says so."+witnessHelp)
	full := fs.Bool("full", false, "verify: reread the whole chain, not only what followed the newest checkpoint an earlier run verified")
	archiveDir := fs.String("archive", "", "verify: also the archived months in this directory, with the live trail as one chain")
	src := registerTrail(fs, e)
	wf := registerWitness(fs)
	if help, err := parse(fs, e, actionLast(args)); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError(errors.New("audit: want exactly one of: verify, checkpoint, sinks"))
	}
	action := fs.Arg(0)
	if action == "sinks" {
		return auditSinks(ctx, e, src)
	}
	if action != "verify" && action != "checkpoint" {
		return usageError(fmt.Errorf("audit: unknown action %q, want verify, checkpoint or sinks", action))
	}
	cfg, err := src.Load()
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
		if *archiveDir != "" {
			pool.Close()
			return auditVerifyArchive(ctx, e, cfg, *archiveDir)
		}
		// A witness check reads every stored hash anyway: the chain is
		// verified in full beside it, so an edit before the newest trusted
		// checkpoint is found too.
		rep, err := audit.VerifyLatest(ctx, pool, w.Keys(), *full || *wf.url != "", nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, rep.String())
		printCheckpointKeys(e, rep)
		if *wf.url != "" {
			return auditVerifyWitness(ctx, e, pool, w, rep, wf)
		}
		if !rep.OK() {
			return &exitError{code: 1}
		}
		return nil
	}
}

// registerTrail adds the flags of the settings the commands that write to
// or check the trail read: the database URL and the audit key, so a
// reviewer's machine needs no session or encryption key. Without a
// database URL they are read from `keyport dev`'s dev.env, if there is one.
func registerTrail(fs *flag.FlagSet, e env) *config.Source {
	return config.Register(fs, devGetenv(e), config.DatabaseURL, config.AuditKey)
}

// openTrail opens a database with a current schema and an audit writer
// whose keys derive from cfg's audit key, for the commands that write to
// or check the trail.
func openTrail(ctx context.Context, e env, cfg config.Config) (*pgxpool.Pool, *audit.Writer, error) {
	keys, err := audit.DeriveKeys(cfg.AuditKey) // the ring: newest signs, every key verifies
	if err != nil {
		return nil, nil, usageError(fmt.Errorf("KEYPORT_AUDIT_KEY: %w", err))
	}
	pool, err := openCurrent(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return pool, audit.NewWriter(pool, keys, logging.New(e.stderr, "text", nil)), nil
}

// auditSinks prints every sink's cursor, lag and last error, as the
// portals recorded them (it needs only the database).
func auditSinks(ctx context.Context, e env, src *config.Source) error {
	cfg, err := src.Load(config.DatabaseURL)
	if err != nil {
		return usageError(err)
	}
	pool, err := openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	hs, err := auditsink.Read(ctx, pool)
	if err != nil {
		return err
	}
	if len(hs) == 0 {
		fmt.Fprintln(e.stdout, auditsink.ErrNoSinks.Error())
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tCURSOR\tLAG\tDELIVERED\tFAILURES\tLAST ERROR\tTARGET")
	for _, h := range hs {
		delivered := "never"
		if h.DeliveredAt != nil {
			delivered = h.DeliveredAt.UTC().Format(time.RFC3339)
		}
		lastErr := "-"
		if h.Failures > 0 {
			lastErr = h.LastError
		}
		fmt.Fprintf(tw, "%s\t%d\t%d events, %s\t%s\t%d\t%s\t%s\n", h.Name, h.LastID, h.LagEvents,
			(time.Duration(h.LagSeconds) * time.Second).String(), delivered, h.Failures, lastErr, h.Target)
	}
	return tw.Flush()
}
