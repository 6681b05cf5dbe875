package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/keyport/keyport/internal/app"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/reviewer"
)

// reviewerSessions is `keyport reviewer sessions --username NAME [--end]`:
// the reviewer's live sessions (ASVS 7.4.5), and with --end, every one of
// them ended (audited as an auditor.logout, step "ended by an operator").
// Reading where each was signed in from needs the encryption key (the
// values are sealed), and the session store the session key.
func reviewerSessions(ctx context.Context, e env, cmd string, args []string) error {
	fs := newFlagSet(e, cmd+" sessions", reviewerUsage(cmd))
	need := []string{config.DatabaseURL, config.AuditKey, config.EncryptionKey, config.SessionKey}
	src := config.Register(fs, devGetenv(e), need...)
	username := usernameFlag(fs)
	end := fs.Bool("end", false, "end every session of the reviewer (each is signed out at its next request)")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if err := checkArgs(fs, username); err != nil {
		return err
	}
	cfg, err := src.Load(need...)
	if err != nil {
		return usageError(err)
	}
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	store, err := app.ReviewerSessions(pool, cfg)
	if err != nil {
		return usageError(err)
	}
	svc := reviewer.New(pool, w, nil, reviewer.Options{})
	owners, err := svc.Owners(ctx, *username)
	if err != nil {
		return err
	}
	const when = "2006-01-02 15:04 UTC"
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SIGNED IN\tLAST SEEN\tADDRESS\tBROWSER\tACCOUNT")
	for _, o := range owners {
		list, err := store.Of(ctx, o, nil)
		if err != nil {
			return err
		}
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.CreatedAt.UTC().Format(when), s.LastSeenAt.UTC().Format(when),
				s.ClientIP, s.UserAgent, o)
		}
	}
	if err := tw.Flush(); err != nil || !*end {
		return err
	}
	name := reviewer.NormalizeUsername(*username)
	n, err := svc.EndSessions(ctx, cliActor(e), audit.Scope{}, name, "ended by an operator", func(ctx context.Context) (int64, error) {
		var n int64
		for _, o := range owners {
			k, err := store.End(ctx, o, "")
			if err != nil {
				return n, err
			}
			n += k
		}
		return n, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d sessions of reviewer %s ended\n", n, name)
	return nil
}
