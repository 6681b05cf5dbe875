package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
)

const archiveUsage = `audit archive [--dir DIR]

Moves every month of the audit trail that ended more than KEYPORT_AUDIT_RETAIN
ago (e.g. 400d) out of the database, oldest first: for each month it writes
DIR/audit-YYYY-MM.jsonl.gz (the JSON-lines export's records) and
DIR/audit-YYYY-MM.manifest.json (first and last id and hash, count, the
covering signed checkpoint, the file's SHA-256), re-reads and verifies them,
then records the archive in the trail (an audit.archive event) and detaches
and drops the month, in one transaction. Run it as the audit tables' owner.
With KEYPORT_AUDIT_RETAIN empty nothing is archived.
Check the result with: keyport audit verify --archive DIR`

// cmdAuditArchive is `keyport audit archive`.
func cmdAuditArchive(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "audit archive", archiveUsage)
	dir := fs.String("dir", ".", "directory the archive files are written to")
	src := config.Register(fs, devGetenv(e), config.DatabaseURL, config.AuditKey, config.AuditRetain)
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(errors.New("audit archive: takes no arguments besides --dir"))
	}
	cfg, err := src.Load()
	if err != nil {
		return usageError(err)
	}
	if cfg.AuditRetain == 0 {
		fmt.Fprintln(e.stdout, "KEYPORT_AUDIT_RETAIN is empty: the whole trail is kept, nothing archived")
		return nil
	}
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ms, err := audit.Archive(ctx, pool, w, *dir, cfg.AuditRetain, time.Now(), func(m audit.Manifest) {
		fmt.Fprintf(e.stdout, "archived %s: events %d to %d (%d), %s sha256 %s\n", m.Month, m.FirstID, m.LastID, m.Count, m.File, m.SHA256)
	})
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		fmt.Fprintf(e.stdout, "no month ended more than %d days ago: nothing archived\n", int(cfg.AuditRetain.Hours()/24))
	}
	return nil
}

// auditVerifyArchive is `keyport audit verify --archive DIR`: the archived
// months and the live trail as one chain.
func auditVerifyArchive(ctx context.Context, e env, cfg config.Config, dir string) error {
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	rep, err := audit.VerifyArchive(ctx, dir, pool, w.Keys())
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, rep.String())
	if !rep.OK() {
		return &exitError{code: 1}
	}
	return nil
}
