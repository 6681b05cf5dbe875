package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/app"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/logging"
)

// dbOpenTimeout bounds how long start-up waits for the database, so an
// unreachable one is reported within seconds, not after a TCP timeout.
const dbOpenTimeout = 5 * time.Second

// checkpointInterval is how often the audit chain head is signed.
const checkpointInterval = 5 * time.Minute

func cmdServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [flags]\n\nRuns the portal. Every flag overrides the environment variable named in its help.")
	src := config.Register(fs, e.getenv)
	migrateFirst := fs.Bool("migrate", false, "apply pending database migrations before serving")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	cfg, err := src.Load()
	if err != nil {
		return usageError(err)
	}
	if _, err := app.Sinks(app.Options{Config: cfg}); err != nil { // a bad sink list is a usage error, found before anything starts
		return usageError(err)
	}
	log := logging.New(e.stderr, cfg.LogFormat, cfg.LogLevel, logging.RequestLevel(cfg.LogRequests))
	return serve(ctx, cfg, log, serveOptions{migrate: *migrateFirst})
}

type serveOptions struct {
	migrate bool
	// ready is called with the portal's base URL once it accepts connections.
	ready func(url string)
}

// serve runs the portal until ctx is cancelled, then drains in-flight
// requests. It is the one wiring of the portal, used by serve, dev and tests.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, opts serveOptions) error {
	start := time.Now()
	if opts.migrate {
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		st, err := db.Migrate(mctx, cfg.DatabaseURL.Reveal())
		cancel()
		if err != nil {
			return err
		}
		log.Info("database migrated", "version", st.Current)
	}
	pool, err := openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	readPool, err := openReadDB(cfg)
	if err != nil {
		return err
	}
	if readPool != nil {
		defer readPool.Close()
	}
	portal, err := app.New(app.Options{Config: cfg, Log: log, Pool: pool, ReadPool: readPool, Version: build().Version, CheckpointInterval: checkpointInterval})
	if err != nil {
		return err
	}
	defer portal.Close() // the instance lock goes after the drain: nothing of ours is in flight then
	// Background jobs stop after the drain, not with ctx: the final
	// checkpoint is signed after the last outcome, then the pool closes.
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{})
	go func() { portal.RunBackground(bgCtx); close(bgDone) }()
	defer func() { stopBg(); <-bgDone }()
	ln, err := net.Listen("tcp", cfg.Addr) // a busy port fails here, before anything is announced
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           portal.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // longer than a CXone call with its retries
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	log.Info("keyport serving", "url", url, "config", cfg, "startup_ms", time.Since(start).Milliseconds())
	if opts.ready != nil {
		opts.ready(url)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return drain(ctx, srv, cfg.ShutdownTimeout, log)
}

// drain stops accepting and lets every in-flight request finish within
// timeout, each writing its own outcome. A second SIGINT/SIGTERM or the
// timeout cuts it short: the connections are closed, and what was cut is
// left as a crash leaves it (an open intent, a create to settle).
func drain(ctx context.Context, srv *http.Server, timeout time.Duration, log *slog.Logger) error {
	if timeout <= 0 {
		timeout = 90 * time.Second
	}
	log.Info("shutting down: draining in-flight requests", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	go func() {
		select {
		case <-again:
			log.Warn("second signal: cutting the drain short")
			cancel()
		case <-sctx.Done():
		}
	}()
	err := srv.Shutdown(sctx)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		log.Info("drained")
		return nil
	}
	_ = srv.Close()
	return fmt.Errorf("shutdown cut short, in-flight requests were dropped: %w", err)
}

func openDB(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	octx, cancel := context.WithTimeout(ctx, dbOpenTimeout)
	defer cancel()
	pool, err := db.Open(octx, cfg.DatabaseURL.Reveal(), cfg.DBMaxConns)
	if err != nil {
		return nil, fmt.Errorf("KEYPORT_DATABASE_URL: %w", err)
	}
	return pool, nil
}

// openReadDB opens KEYPORT_DATABASE_READ_URL's pool, or returns nil when it
// is not set. It does not connect: a replica that is down at start is
// fallen back from like one that goes down later (audit.Reader).
func openReadDB(cfg config.Config) (*pgxpool.Pool, error) {
	if cfg.DatabaseReadURL.Len() == 0 {
		return nil, nil
	}
	pc, err := pgxpool.ParseConfig(cfg.DatabaseReadURL.Reveal())
	if err != nil {
		return nil, errors.New("KEYPORT_DATABASE_READ_URL: not a valid connection URL") // pgx's message can echo the password
	}
	pc.MaxConns = cmp.Or(cfg.DBMaxConns, pc.MaxConns)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("KEYPORT_DATABASE_READ_URL: %w", err)
	}
	return pool, nil
}

// openCurrent opens the database and refuses one whose schema is not the
// one this binary expects.
func openCurrent(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	st, err := db.Status(ctx, pool)
	if err != nil {
		return err
	}
	if !st.UpToDate() {
		return fmt.Errorf("database schema is at version %d, this keyport needs %d: run 'keyport migrate up' or start with --migrate", st.Current, st.Want)
	}
	return nil
}
