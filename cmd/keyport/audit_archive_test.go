package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestAuditArchiveCommand(t *testing.T) {
	url := pgtest.NewDatabase(t)
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = url
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for i, back := range []int{120, 90, 60} {
		if _, err := audit.Seed(ctx, pool, 100, uint64(i+1), time.Now().AddDate(0, 0, -back)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	out, _, err := runCmd(t, env, "audit", "archive", "--dir", dir)
	if err != nil || !strings.Contains(out, "nothing archived") {
		t.Fatalf("archive without KEYPORT_AUDIT_RETAIN: %q, %v", out, err)
	}
	env["KEYPORT_AUDIT_RETAIN"] = "45"
	if _, _, err := runCmd(t, env, "audit", "archive", "--dir", dir); exitCode(err) != 2 {
		t.Fatalf("KEYPORT_AUDIT_RETAIN=45: exit %d, want 2", exitCode(err))
	}
	env["KEYPORT_AUDIT_RETAIN"] = "45d"
	out, _, err = runCmd(t, env, "audit", "archive", "--dir", dir)
	if err != nil || strings.Count(out, "archived ") < 2 {
		t.Fatalf("archive: %q, %v", out, err)
	}
	out, _, err = runCmd(t, env, "audit", "verify", "--archive", dir)
	if err != nil || !strings.HasPrefix(out, "verified ") || !strings.Contains(out, "archived months") {
		t.Fatalf("verify --archive: %q, %v", out, err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl.gz"))
	if err := os.Remove(names[0]); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, env, "audit", "verify", "--archive", dir)
	if exitCode(err) != 1 || !strings.Contains(out, filepath.Base(names[0])) {
		t.Fatalf("verify --archive with %s gone: %q, exit %d", filepath.Base(names[0]), out, exitCode(err))
	}
}
