package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/pglocal"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
)

// devKeys are generated on the first `keyport dev` and kept, so sessions,
// encrypted tokens and the audit chain stay valid across restarts.
var devKeys = []string{config.SessionKey, config.EncryptionKey, config.AuditKey}

const devUsage = `dev [flags]

Runs a local PostgreSQL, the CXone simulator and the portal, for development only: cookies are not
Secure and the keys live in --dir. The cluster, the simulator's state (sim.json) and the keys (dev.env)
are kept in --dir and reused. The three ports are checked before anything starts. Ctrl-C stops all three.
Logs are text, with the per-request lines at debug (KEYPORT_LOG_LEVEL=debug shows them).`

// devSetup is what cmdDev starts the portal with.
type devSetup struct {
	dir, simAddr string
	pgPort       int
	sim          *cxonesim.Sim
	cluster      *pglocal.Cluster
	settings     map[string]string // dev.env: the development keys and the database URL
	reviewerNote string
}

func cmdDev(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "dev", devUsage)
	// Development defaults (filled in below, read when Load runs) sit under
	// the real environment: anything exported or passed as a flag still wins.
	devEnv := map[string]string{config.CookieSecure: "false", config.LogFormat: "text", config.LogRequests: "debug"}
	src := config.Register(fs, func(k string) string { return cmp.Or(e.getenv(k), devEnv[k]) })
	d := devSetup{}
	fs.StringVar(&d.dir, "dir", ".keyport", "directory for the local cluster, the simulator's state and the development keys")
	fs.StringVar(&d.simAddr, "sim-addr", "127.0.0.1:8081", "listen address of the CXone simulator (make dev SIM_PORT=…)")
	fs.IntVar(&d.pgPort, "pg-port", 55432, "TCP port of the local PostgreSQL on 127.0.0.1; 0 picks a free one (make dev PG_PORT=…)")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	early, err := src.Load(config.Addr, config.LogLevel, config.LogFormat, config.LogRequests)
	if err != nil {
		return usageError(err)
	}
	if err := checkPorts(early.Addr, d.simAddr, d.pgPort); err != nil {
		return err
	}
	defer d.stopCluster(ctx, e) // whatever prepare started
	if err := d.prepare(ctx, e, early); err != nil {
		return err
	}
	simLn, err := net.Listen("tcp", d.simAddr)
	if err != nil {
		return fmt.Errorf("dev: CXone simulator: %w", err)
	}
	d.sim.SetBaseURL("http://" + simLn.Addr().String())
	simSrv := &http.Server{Handler: d.sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer func() { // a graceful stop lets the last request's save finish
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = simSrv.Shutdown(sctx)
	}()
	devEnv[config.CXoneURLTemplate] = d.sim.URLTemplate()
	devEnv[config.CXoneJWKSURL] = d.sim.JWKSURL()
	for k, v := range d.settings {
		devEnv[k] = v
	}
	cfg, err := src.Load()
	if err != nil {
		return usageError(err)
	}
	log := logging.New(e.stderr, cfg.LogFormat, cfg.LogLevel, logging.RequestLevel(cfg.LogRequests))
	return serve(ctx, cfg, log, serveOptions{migrate: true, ready: func(url string) {
		d.printBanner(e.stdout, url, cfg.DatabaseURL.Reveal())
	}})
}

// prepare opens the simulator's state, then starts PostgreSQL and makes
// the database, the development keys and the demo reviewer; cmdDev stops
// the cluster. The simulator comes first: a state file it cannot read
// stops everything before a server has started.
func (d *devSetup) prepare(ctx context.Context, e env, early config.Config) error {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	simLevel := slog.LevelWarn // its one line per request shows when the portal's do
	if early.LogLevel <= early.LogRequests {
		simLevel = early.LogLevel
	}
	sim, err := cxonesim.Open(filepath.Join(d.dir, "sim.json"), cxonesim.Options{Seed: 1, Logger: logging.New(e.stderr, early.LogFormat, simLevel)})
	if err != nil {
		return err
	}
	d.sim = sim
	envPath := filepath.Join(d.dir, "dev.env")
	vals, err := readDevEnv(envPath)
	if err != nil {
		return err
	}
	for _, k := range devKeys {
		if _, err := config.ParseKey(vals[k]); err != nil {
			vals[k] = newKey()
		}
	}
	cluster, err := pglocal.New(filepath.Join(d.dir, "pg"), pglocal.Options{Port: d.pgPort})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "Starting PostgreSQL in", cluster.Dir(), "…")
	if err := cluster.Start(ctx); err != nil {
		return err
	}
	d.cluster = cluster
	dbURL := d.cluster.URL("keyport")
	vals[config.DatabaseURL] = dbURL
	if err := writeDevEnv(envPath, vals); err != nil {
		return err
	}
	d.settings = vals
	if err := ensureDatabase(ctx, d.cluster.URL("postgres"), "keyport"); err != nil {
		return err
	}
	if _, err := db.Migrate(ctx, dbURL); err != nil {
		return err
	}
	d.reviewerNote, err = ensureDevReviewer(ctx, dbURL, vals[config.AuditKey], filepath.Join(d.dir, "reviewer-password"))
	if err != nil {
		fmt.Fprintln(e.stderr, "dev: could not create the demo reviewer:", err)
	}
	return nil
}

func (d *devSetup) stopCluster(ctx context.Context, e env) {
	if d.cluster == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := d.cluster.Stop(sctx); err != nil {
		fmt.Fprintln(e.stderr, "dev: stopping PostgreSQL:", err)
	} else {
		fmt.Fprintln(e.stdout, "PostgreSQL stopped.")
	}
}

// checkPorts listens on each port dev needs and closes it again, before
// anything starts: a taken port is a usage error naming it and the fix,
// rather than a failure after PostgreSQL has started.
func checkPorts(portalAddr, simAddr string, pgPort int) error {
	_, portalPort, _ := net.SplitHostPort(portalAddr)
	_, simPort, err := net.SplitHostPort(simAddr)
	if err != nil {
		return usageError(fmt.Errorf("dev: --sim-addr: want host:port, got %q", simAddr))
	}
	if pgPort < 0 || pgPort > 65535 {
		return usageError(fmt.Errorf("dev: --pg-port: want a port number, got %d", pgPort))
	}
	var taken []string
	for _, p := range []struct{ what, addr, makeVar string }{
		{"the portal, --addr", portalAddr, "PORT"},
		{"the CXone simulator, --sim-addr", simAddr, "SIM_PORT"},
		{"PostgreSQL, --pg-port", net.JoinHostPort("127.0.0.1", strconv.Itoa(pgPort)), "PG_PORT"},
	} {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			taken = append(taken, fmt.Sprintf("dev: port %s (%s: %s in make) is already in use.", portOf(p.addr), p.what, p.makeVar))
			continue
		}
		ln.Close()
	}
	if taken == nil {
		return nil
	}
	return usageError(fmt.Errorf("%s\nStop what holds it, or move the ports: make dev PORT=%d SIM_PORT=%d PG_PORT=%d\n(or keyport dev --addr 127.0.0.1:%[2]d --sim-addr 127.0.0.1:%[3]d --pg-port %[4]d)",
		strings.Join(taken, "\n"), shift(portalPort, 8090), shift(simPort, 8091), shift(strconv.Itoa(pgPort), 55442)))
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// shift suggests a port ten above p (or def when p is not a number).
func shift(p string, def int) int {
	n, err := strconv.Atoi(p)
	if err != nil || n == 0 || n > 65525 {
		return def
	}
	return n + 10
}

// printBanner is the last thing a normal `keyport dev` prints: everything a
// developer needs, once everything is ready. Request lines are at debug, so
// it stays on screen. The database URL is shown without its password; the
// tools read the whole URL from dev.env themselves.
func (d *devSetup) printBanner(w io.Writer, portal, dbURL string) {
	gen := strings.Replace(d.sim.URLTemplate(), "{region}", "na1", 1) + "/generate-key"
	rule := strings.Repeat("─", 78)
	fmt.Fprintf(w, `
%s
 Keyport is ready (development)
   Portal              %s
   CXone Generate Key  %s   (Acme Contact NA1, Ada Admin)
   Reviewer sign-in    %s/reviewer/login   %s
   Database            %s
                       keyport audit verify / keyport auditor list, run here, use it (via %s)
   Data                %s  (PostgreSQL, the simulator's keys, development keys; delete it to start afresh)
   Stop                Ctrl-C stops the portal, the simulator and PostgreSQL
%s
`, rule, portal, gen, portal, d.reviewerNote, redactURL(dbURL), filepath.Join(d.dir, "dev.env"), d.dir+string(filepath.Separator), rule)
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
	keys, err := audit.DeriveKeys(keyring.New(key))
	if err != nil {
		return "", err
	}
	pool, err := db.Open(ctx, dbURL, 4)
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
