package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keyport/keyport/internal/app"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/logging"
)

func cmdReconcile(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "reconcile", "reconcile [flags]\n\nSettles key creations whose outcome was lost or whose process died mid-create (lists\nthe owner's keys through a live connection to the tenant and attaches the new key to\nits intent), and closes audit intents whose outcome record was lost: a deactivate,\nactivate or delete is read back from CXone first, anything else is marked unknown.\nSafe to run at any time.")
	src := config.Register(fs, e.getenv)
	olderThan := fs.Duration("older-than", 5*time.Minute, "only close audit intents older than this")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	// Every setting has its flag, so reconcile takes serve's command line,
	// but only what the services read is loaded: no session key is needed.
	cfg, err := src.Load(config.DatabaseURL, config.EncryptionKey, config.AuditKey,
		config.CXoneURLTemplate, config.CXoneJWKSURL, config.LogLevel, config.LogFormat, config.StaleDays)
	if err != nil {
		return usageError(err)
	}
	log := logging.New(e.stderr, cfg.LogFormat, cfg.LogLevel)
	pool, err := openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The domain services only: reconcile serves no HTTP.
	svc, err := app.NewServices(app.Options{Config: cfg, Log: log, Pool: pool, Version: build().Version})
	if err != nil {
		return err
	}
	defer svc.Close()
	settled, remaining, err := svc.Keys.ReconcileAll(ctx)
	if err != nil {
		return err
	}
	closed, err := svc.Audit.CloseOpenIntents(ctx, time.Now().Add(-*olderThan), svc.Keys.CheckIntent)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "creates settled: %d, still pending: %d; audit intents closed: %d\n", settled, remaining, closed)
	return nil
}
