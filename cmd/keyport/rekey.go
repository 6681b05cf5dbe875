package main

import (
	"context"
	"fmt"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/rekey"
)

func cmdRekey(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "rekey", "rekey [flags]\n\nRe-encrypts every stored sealed value (CXone tokens, TOTP seeds, session data) under the\nnewest key of KEYPORT_ENCRYPTION_KEY, in batches, each row swapped only if no portal wrote it\nmeanwhile: safe while portals run, and a second run finds nothing to do. Records one\nkeys.rekey audit event with the counts, then signs a checkpoint with the newest audit key.\nExit 1 when some values open under no key of the ring (`keyport keys status` names their key).\n\nNeeds KEYPORT_DATABASE_URL, KEYPORT_ENCRYPTION_KEY and KEYPORT_AUDIT_KEY.")
	src := config.Register(fs, devGetenv(e), config.DatabaseURL, config.EncryptionKey, config.AuditKey)
	batch := fs.Int("batch", rekey.Batch, "values re-sealed per statement")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if fs.NArg() != 0 || *batch < 1 {
		return usageError(fmt.Errorf("rekey: takes no arguments and a --batch >= 1"))
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
	res, err := rekey.Run(ctx, pool, cfg.EncryptionKey, w, rekeyActor(e), *batch, func(c rekey.Column) {
		fmt.Fprintf(e.stdout, "%s: %d re-sealed, %d changed meanwhile, %d unreadable\n", c.Name, c.Resealed, c.Changed, c.Unreadable)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "everything readable is sealed under encryption key %s\n", res.KeyID)
	if res.Checkpoint != nil {
		fmt.Fprintf(e.stdout, "checkpoint %d signed with audit key %s\n", res.Checkpoint.ID, res.Checkpoint.KeyID)
	}
	if res.Stamped > 0 {
		fmt.Fprintf(e.stdout, "%d checkpoint(s) made before key ids now name the audit key that signed them\n", res.Stamped)
	}
	if n := res.Unreadable(); n > 0 {
		return &exitError{code: 1, err: fmt.Errorf("rekey: %d value(s) open under no key of KEYPORT_ENCRYPTION_KEY: `keyport keys status` names the key they need", n)}
	}
	return nil
}

// rekeyActor is who the trail records for `keyport rekey`.
func rekeyActor(e env) audit.Actor {
	actor := audit.Actor{Kind: kp.ActorSystem, UserID: "keyport rekey", Name: "command line"}
	if u := e.getenv("USER"); u != "" {
		actor.Name = "command line, OS user " + u
	}
	return actor
}
