package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jackc/tern/v2/migrate"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/migrations"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestMigrateUpIsIdempotentAndSafeConcurrently(t *testing.T) {
	url := pgtest.NewEmptyDatabase(t)
	env := map[string]string{"KEYPORT_DATABASE_URL": url}
	out, _, err := runCmd(t, env, "migrate", "status")
	if exitCode(err) != 1 || !strings.Contains(out, "schema at version 0 of") {
		t.Fatalf("status of an empty database: %q, %v", out, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = runCmd(t, env, "migrate", "up")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate up #%d: %v", i, err)
		}
	}
	want, _ := migrate.FindMigrations(migrations.FS)
	out, _, err = runCmd(t, env, "migrate", "up")
	if err != nil || !strings.Contains(out, "latest") {
		t.Fatalf("second migrate up: %q, %v", out, err)
	}
	out, _, err = runCmd(t, env, "migrate", "status")
	if err != nil || strings.TrimSpace(out) != "schema at version "+itoa(len(want))+" of "+itoa(len(want)) {
		t.Fatalf("status after migrating: %q, %v", out, err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestServeRefusesStaleSchema(t *testing.T) {
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = pgtest.NewEmptyDatabase(t)
	env["KEYPORT_ADDR"] = "127.0.0.1:0"
	_, _, err := runCmd(t, env, "serve")
	if err == nil || !strings.Contains(err.Error(), "keyport migrate up") || !strings.Contains(err.Error(), "--migrate") {
		t.Fatalf("serve on an unmigrated database: %v", err)
	}
}

// serveForTest runs the real serve wiring on a free port and returns its URL.
func serveForTest(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		fs := newFlagSet(env2(env, &stderr), "serve", "")
		src := config.Register(fs, func(k string) string { return env[k] })
		_ = fs.Parse(args)
		cfg, err := src.Load()
		if err != nil {
			done <- err
			return
		}
		done <- serve(ctx, cfg, discardLogger(), serveOptions{migrate: true, ready: func(u string) { urls <- u }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not become ready")
	}
	return ""
}

func TestServeBecomesReadyAndShutsDownCleanly(t *testing.T) {
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = pgtest.NewEmptyDatabase(t)
	env["KEYPORT_ADDR"] = "127.0.0.1:0"
	base := serveForTest(t, env)
	for _, p := range []string{"/healthz", "/readyz", "/"} {
		res, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", p, res.StatusCode)
		}
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	url := pgtest.NewDatabase(t)
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = url
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	key, _ := config.ParseKey(env["KEYPORT_AUDIT_KEY"])
	keys, _ := audit.DeriveKeys(keyring.New(key))
	w := audit.NewWriter(pool, keys, discardLogger())
	for i := 0; i < 3; i++ {
		if err := w.Record(ctx, audit.Event{Actor: audit.Actor{Kind: kp.ActorSystem}, Action: kp.KeyList}, audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := runCmd(t, env, "audit", "checkpoint")
	if err != nil || !strings.HasPrefix(out, "checkpoint 1: 3 events") {
		t.Fatalf("audit checkpoint: %q, %v", out, err)
	}
	out, _, err = runCmd(t, env, "audit", "verify")
	if err != nil || !strings.HasPrefix(out, "verified 3 events, head ") {
		t.Fatalf("audit verify: %q, %v", out, err)
	}
	if _, err := pool.Exec(ctx, `SET session_replication_role = replica; UPDATE audit_events SET actor_name = 'x' WHERE id = 2; SET session_replication_role = origin`); err != nil {
		t.Fatal(err)
	}
	// The next run starts after checkpoint 1, which the first run verified:
	// a change before it is found by --full.
	out, _, err = runCmd(t, env, "audit", "verify")
	if err != nil || !strings.HasPrefix(out, "verified 0 events after checkpoint 1") {
		t.Fatalf("incremental audit verify: %q, %v", out, err)
	}
	out, _, err = runCmd(t, env, "audit", "verify", "--full")
	if exitCode(err) != 1 || !strings.Contains(out, "BROKEN at event 2: changed") {
		t.Fatalf("audit verify --full after tampering: %q, exit %d", out, exitCode(err))
	}
	// With another audit key (the first one retired), the checkpoint is
	// named with its key's id, not called forged (issue 21).
	env["KEYPORT_AUDIT_KEY"] = newKey()
	out, _, err = runCmd(t, env, "audit", "verify")
	want := "checkpoint 1 not checked: signed with audit key " + keyring.ID(key) + ", which is not in KEYPORT_AUDIT_KEY"
	if exitCode(err) != 1 || !strings.Contains(out, want) || strings.Contains(out, "forged-checkpoint") {
		t.Fatalf("audit verify with another key: %q, exit %d; want %q", out, exitCode(err), want)
	}
}
