package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/pglocal"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
)

// devKeys are generated on the first `keyport dev` and kept, so sessions,
// encrypted tokens and the audit chain stay valid across restarts.
var devKeys = []string{"KEYPORT_SESSION_KEY", "KEYPORT_ENCRYPTION_KEY", "KEYPORT_AUDIT_KEY"}

func cmdDev(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "dev", "dev [flags]\n\nRuns a local PostgreSQL (kept in --dir and reused), the CXone simulator and the portal.\nCtrl-C stops all three. Not for production: cookies are not Secure, keys live in --dir.")
	// Development defaults (filled in below, read when Load runs) sit under
	// the real environment: anything exported or passed as a flag still wins.
	devEnv := map[string]string{}
	src := config.Register(fs, func(k string) string { return cmp.Or(e.getenv(k), devEnv[k]) })
	dir := fs.String("dir", ".keyport", "directory for the local cluster and development keys")
	simAddr := fs.String("sim-addr", "127.0.0.1:8081", "listen address of the CXone simulator")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	keys, err := loadOrCreateDevKeys(filepath.Join(*dir, "dev.env"))
	if err != nil {
		return err
	}
	cluster, err := pglocal.New(filepath.Join(*dir, "pg"), pglocal.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "Starting PostgreSQL in", cluster.Dir(), "…")
	if err := cluster.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cluster.Stop(sctx); err != nil {
			fmt.Fprintln(e.stderr, "dev: stopping PostgreSQL:", err)
		} else {
			fmt.Fprintln(e.stdout, "PostgreSQL stopped.")
		}
	}()
	if err := ensureDatabase(ctx, cluster.URL("postgres"), "keyport"); err != nil {
		return err
	}
	if _, err := db.Migrate(ctx, cluster.URL("keyport")); err != nil {
		return err
	}
	reviewerNote, err := ensureDevReviewer(ctx, cluster.URL("keyport"), keys["KEYPORT_AUDIT_KEY"], filepath.Join(*dir, "reviewer-password"))
	if err != nil {
		fmt.Fprintln(e.stderr, "dev: could not create the demo reviewer:", err)
	}
	sim := cxonesim.New(cxonesim.Options{Seed: 1, Logger: logging.New(e.stderr, "text", nil)})
	simLn, err := net.Listen("tcp", *simAddr)
	if err != nil {
		return fmt.Errorf("dev: CXone simulator: %w", err)
	}
	sim.SetBaseURL("http://" + simLn.Addr().String())
	simSrv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()
	devEnv["KEYPORT_CXONE_URL_TEMPLATE"] = sim.URLTemplate()
	devEnv["KEYPORT_CXONE_JWKS_URL"] = sim.JWKSURL()
	devEnv["KEYPORT_DATABASE_URL"] = cluster.URL("keyport")
	devEnv["KEYPORT_COOKIE_SECURE"] = "false"
	devEnv["KEYPORT_LOG_FORMAT"] = "text"
	for k, v := range keys {
		devEnv[k] = v
	}
	cfg, err := src.Load()
	if err != nil {
		return usageError(err)
	}
	log := logging.New(e.stderr, cfg.LogFormat, cfg.LogLevel)
	return serve(ctx, cfg, log, serveOptions{migrate: true, ready: func(url string) {
		fmt.Fprintln(e.stdout)
		printSimInfo(e.stdout, sim)
		fmt.Fprintf(e.stdout, "\nKeyport is running: %s\n  1. Open the Generate Key page above, pick a tenant and user, copy the basic token.\n  2. Open %s/connect, paste it, choose na1, connect; then create a key.\n  3. Security reviewers sign in at %s/reviewer/login %s\nPress Ctrl-C to stop the portal, the simulator and PostgreSQL.\n\n", url, url, url, reviewerNote)
	}})
}

// loadOrCreateDevKeys reads KEY=value lines from path, generating any key
// that is missing and writing the file back with mode 0600.
func loadOrCreateDevKeys(path string) (map[string]string, error) {
	keys := map[string]string{}
	f, err := os.Open(path)
	switch {
	case err == nil:
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && !strings.HasPrefix(k, "#") {
				keys[k] = v
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	changed := false
	for _, k := range devKeys {
		if _, err := config.ParseKey(keys[k]); err != nil {
			keys[k] = newKey()
			changed = true
		}
	}
	if changed {
		var b strings.Builder
		b.WriteString("# Development keys for `keyport dev`. Never use these in production.\n")
		for _, k := range devKeys {
			fmt.Fprintf(&b, "%s=%s\n", k, keys[k])
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return keys, nil
}

// ensureDatabase creates dbname on the server at adminURL unless it exists.
func ensureDatabase(ctx context.Context, adminURL, dbname string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to local PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, dbname).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", dbname, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{dbname}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", dbname, err)
	}
	return nil
}

// ensureDevReviewer creates the development reviewer "reviewer" once, with a
// random password kept in passwordFile (0600), and says how to sign in.
func ensureDevReviewer(ctx context.Context, dbURL, auditKey, passwordFile string) (string, error) {
	note := "as \"reviewer\", password in " + passwordFile
	if _, err := os.Stat(passwordFile); err == nil {
		return note, nil
	}
	key, err := config.ParseKey(auditKey)
	if err != nil {
		return "", err
	}
	keys, err := audit.DeriveKeys(key)
	if err != nil {
		return "", err
	}
	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	password := newKey()[:24]
	svc := reviewer.New(pool, audit.NewWriter(pool, keys, slog.New(slog.DiscardHandler)), nil, reviewer.Options{})
	if _, err := svc.Add(ctx, audit.Actor{Kind: kp.ActorSystem, UserID: "keyport dev"}, "reviewer", secret.New(password), false); err != nil {
		if kp.KindOf(err) == kp.Conflict {
			return "(account \"reviewer\" exists; reset it with `keyport reviewer reset-password`)", nil
		}
		return "", err
	}
	if err := os.WriteFile(passwordFile, []byte(password+"\n"), 0o600); err != nil {
		return "", err
	}
	return note, nil
}
