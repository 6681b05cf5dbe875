package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/pgtest"
)

// `keyport policy set` changes only the rules given, audited; a tenant's
// override shows beside the global row with the policy in force there;
// "inherit" gives a rule back to the global policy; bad values exit 2.
func TestPolicyCommand(t *testing.T) {
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = pgtest.NewDatabase(t)
	out, _, err := runCmd(t, env, "policy", "set", "--max-age-days", "90", "--label-required=true")
	if err != nil || !strings.Contains(out, "(global)") || !strings.Contains(out, "90") {
		t.Fatalf("set global: %q %v", out, err)
	}
	if _, _, err := runCmd(t, env, "policy", "set", "--tenant", "t-1", "--max-age-days", "0", "--max-active-per-user", "3"); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, env, "policy", "show", "--tenant", "t-1")
	want := "In force for t-1: max age no rule, max idle no rule, max active per user 3, label required true."
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("show tenant: %q %v, want %q", out, err, want)
	}
	if _, _, err := runCmd(t, env, "policy", "set", "--tenant", "t-1", "--max-age-days", "inherit"); err != nil {
		t.Fatal(err)
	}
	if out, _, _ = runCmd(t, env, "policy", "show", "--tenant", "t-1"); !strings.Contains(out, "max age 90 days, max idle no rule, max active per user 3") {
		t.Errorf("after inherit: %q", out)
	}
	if _, _, err := runCmd(t, env, "policy", "set", "--max-idle-days", "ten"); exitCode(err) != 2 || !strings.Contains(err.Error(), "--max-idle-days") {
		t.Errorf("a bad value: %v", err)
	}
	if _, _, err := runCmd(t, env, "policy", "frob"); exitCode(err) != 2 {
		t.Errorf("an unknown subcommand: %v", err)
	}
	pool, err := pgxpool.New(context.Background(), env["KEYPORT_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE action = 'policy.set' AND outcome = 'success'
		AND actor_user_id = 'keyport policy'`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d policy.set events (%v), want 3", n, err)
	}
}
