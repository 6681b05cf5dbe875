package main

import (
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/pgtest"
)

func TestAuditSeedIsForDevelopmentOnly(t *testing.T) {
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = pgtest.NewDatabase(t)
	if _, _, err := runCmd(t, env, "audit", "seed", "--events", "10"); exitCode(err) != 2 || !strings.Contains(err.Error(), "KEYPORT_DEV=1") {
		t.Fatalf("undeclared: %v", err)
	}
	remote := map[string]string{"KEYPORT_DATABASE_URL": "postgres://u:p@db.example.com/keyport", "KEYPORT_AUDIT_KEY": env["KEYPORT_AUDIT_KEY"], "KEYPORT_DEV": "1"}
	if _, _, err := runCmd(t, remote, "audit", "seed", "--events", "10", "--i-know-this-is-dev"); exitCode(err) != 2 || !strings.Contains(err.Error(), "not this machine") {
		t.Fatalf("remote host: %v", err)
	}
	env["KEYPORT_DEV"] = "1"
	out, _, err := runCmd(t, env, "audit", "seed", "--events", "1000")
	if err != nil || !strings.HasPrefix(out, "seeded 1000 events") {
		t.Fatalf("seed: %v %q", err, out)
	}
	out, _, err = runCmd(t, env, "audit", "verify")
	if err != nil || !strings.HasPrefix(out, "verified 1001 events") {
		t.Fatalf("verify after seed: %v %q", err, out)
	}
}

func TestDevOnlyAcceptsOnlyThisMachine(t *testing.T) {
	for url, local := range map[string]bool{
		"postgres://u@127.0.0.1:5432/k":        true,
		"postgres://u@localhost/k":             true,
		"postgres://u@[::1]:5432/k":            true,
		"postgres:///k?host=/var/run/postgres": true,
		"postgres://u@10.0.0.5/k":              false,
		"postgres://u@db.internal/k":           false,
		"postgres://u@127.0.0.1,10.0.0.5/k":    false,
	} {
		err := devOnly(url, true)
		if (err == nil) != local {
			t.Errorf("%s: %v, want local=%v", url, err, local)
		}
	}
}
