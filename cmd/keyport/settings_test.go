package main

import (
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/pgtest"
)

// Every command that reads configuration reads it through internal/config:
// exit 2, one line per problem, and only for the settings it reads.
func TestCommandsReportOnlyTheSettingsTheyRead(t *testing.T) {
	badAudit := map[string]string{"KEYPORT_AUDIT_KEY": "c2hvcnQ=", "KEYPORT_SESSION_KEY": "not a key"}
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		lines []string // the prefix of each line of the error, in order
	}{
		{"migrate needs the database URL", []string{"migrate", "status"}, nil,
			[]string{"KEYPORT_DATABASE_URL: required"}},
		{"migrate wants a postgres URL", []string{"migrate", "up"}, map[string]string{"KEYPORT_DATABASE_URL": "host=db"},
			[]string{"KEYPORT_DATABASE_URL: want a postgres://"}},
		{"audit verify needs the URL and the audit key", []string{"audit", "verify"}, badAudit,
			[]string{"KEYPORT_DATABASE_URL: required", "KEYPORT_AUDIT_KEY: too short"}},
		{"audit seed needs the URL and the audit key", []string{"audit", "seed", "--events", "1"}, badAudit,
			[]string{"KEYPORT_DATABASE_URL: required", "KEYPORT_AUDIT_KEY: too short"}},
		{"reviewer list needs no encryption key", []string{"reviewer", "list"}, badAudit,
			[]string{"KEYPORT_DATABASE_URL: required", "KEYPORT_AUDIT_KEY: too short"}},
		{"auditor disable too", []string{"auditor", "disable", "--username", "bob"}, badAudit,
			[]string{"KEYPORT_DATABASE_URL: required", "KEYPORT_AUDIT_KEY: too short"}},
		{"reviewer add --totp needs the encryption key", []string{"reviewer", "add", "--username", "bob", "--totp"}, badAudit,
			[]string{"KEYPORT_DATABASE_URL: required", "KEYPORT_ENCRYPTION_KEY: required", "KEYPORT_AUDIT_KEY: too short"}},
		{"reconcile needs no session key", []string{"reconcile", "--session-key-file", "/nonexistent"}, badAudit,
			[]string{"KEYPORT_DATABASE_URL: required", "KEYPORT_ENCRYPTION_KEY: required", "KEYPORT_AUDIT_KEY: too short"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, tc.env, tc.args...)
			if code := exitCode(err); code != 2 || err == nil {
				t.Fatalf("exit %d (%v), want 2", code, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.lines) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tc.lines), err)
			}
			for i, want := range tc.lines {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("line %d = %q, want prefix %q", i, lines[i], want)
				}
			}
		})
	}
}

func TestReconcileOnAFreshDatabase(t *testing.T) {
	env := validKeys()
	delete(env, "KEYPORT_SESSION_KEY")
	env["KEYPORT_DATABASE_URL"] = pgtest.NewDatabase(t)
	env["KEYPORT_LOG_FORMAT"] = "text"
	out, _, err := runCmd(t, env, "reconcile")
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if want := "creates settled: 0, still pending: 0; audit intents closed: 0\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
}
