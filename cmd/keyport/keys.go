package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/rekey"
)

func cmdKeys(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys", "keys [flags] status\n\n  status  per key ring (KEYPORT_SESSION_KEY, _ENCRYPTION_KEY, _AUDIT_KEY), each key id and what still\n          uses it: live sessions, sealed tokens, TOTP seeds and session data, checkpoints,\n          fingerprints. NEEDED no: the key can be retired (docs/security.md, key rotation).\n          An id in no ring is one the database names but the configuration lacks;\n          \"(before ids)\" counts what was made before key ids were recorded.\n\nNeeds KEYPORT_DATABASE_URL and the three keys.")
	src := config.Register(fs, devGetenv(e), config.DatabaseURL, config.SessionKey, config.EncryptionKey, config.AuditKey)
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "status" {
		fs.Usage()
		return usageError(errors.New("keys: want: status"))
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
	now := time.Now()
	keys, err := rekey.Status(ctx, pool, rekey.Rings{Session: cfg.SessionKey, Encryption: cfg.EncryptionKey, Audit: cfg.AuditKey,
		AuditKeys: w.Keys()}, now)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RING\tKEY\tROLE\tNEEDED\tUSED BY")
	for _, k := range keys {
		id, role := k.KeyID, "older"
		switch {
		case id == "":
			id, role = "(before ids)", "unknown key"
		case k.Newest:
			role = "newest"
		case !k.InRing:
			role = "not in ring"
		}
		needed := "no"
		if k.Needed() {
			needed = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Ring, id, role, needed, uses(k.Uses, now))
	}
	return tw.Flush()
}

// uses says what a key still produced, e.g. "sessions 3 (until 2026-…); tokens 2".
func uses(us []rekey.Use, now time.Time) string {
	var parts []string
	for _, u := range us {
		p := fmt.Sprintf("%s %d", u.What, u.Count)
		if u.Until != nil && u.Until.After(now) {
			p += " (until " + u.Until.UTC().Format(time.RFC3339) + ")"
		}
		if u.Note != "" {
			p += " (" + u.Note + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// printCheckpointKeys follows `audit verify`'s one-line verdict: how many
// checkpoints each audit key verified, and each checkpoint no key of the
// ring could check (its key was retired). Those are not called forged: they
// were still compared with the chain.
func printCheckpointKeys(e env, rep audit.Report) {
	if len(rep.ByKey) > 0 {
		var by []string
		for id, n := range rep.ByKey {
			by = append(by, fmt.Sprintf("%d with audit key %s", n, id))
		}
		slices.Sort(by)
		fmt.Fprintf(e.stdout, "checkpoints verified: %s\n", strings.Join(by, ", "))
	}
	for _, u := range rep.Unchecked {
		fmt.Fprintln(e.stdout, u.String())
	}
}
