package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/pgtest"
)

// keyport auditor list shows OIDC reviewers with their source, and disable
// acts on the local account of the same name only.
func TestAuditorListShowsOIDCReviewersAndDisableLeavesThem(t *testing.T) {
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = pgtest.NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), env["KEYPORT_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	now := time.Now()
	if _, err := db.New(pool).UpsertOIDCReviewer(context.Background(), &db.OIDCReviewer{Issuer: "https://sso.example.com/realms/staff",
		Subject: "ada-0001", Email: "ada@example.com", Groups: []string{"security-reviewers"}, CreatedAt: now, LastLoginAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runWithStdin(t, env, "a long enough password\n", "auditor", "add", "--username", "ada@example.com"); err != nil {
		t.Fatalf("add: %v", err)
	}
	if _, _, err := runCmd(t, env, "auditor", "disable", "--username", "ada@example.com"); err != nil {
		t.Fatalf("disable: %v", err)
	}
	out, _, err := runCmd(t, env, "auditor", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "SOURCE") ||
		!strings.Contains(lines[1], "ada@example.com") || !strings.Contains(lines[1], "local") || !strings.Contains(lines[1], "disabled") ||
		!strings.Contains(lines[2], "oidc https://sso.example.com/realms/staff") || !strings.Contains(lines[2], "active") {
		t.Fatalf("list:\n%s", out)
	}
}
