package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/pgtest"
)

func runWithStdin(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// keyport reviewer manages accounts, and so does its alias keyport auditor.
func TestReviewerCommandManagesAccounts(t *testing.T) {
	for _, cmd := range []string{"reviewer", "auditor"} {
		t.Run(cmd, func(t *testing.T) { testReviewerCommand(t, cmd) })
	}
}

func testReviewerCommand(t *testing.T, cmd string) {
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = pgtest.NewDatabase(t)
	png := filepath.Join(t.TempDir(), "qr.png")
	out, _, err := runWithStdin(t, env, "a long enough password\n", cmd, "add", "--username", "Alice", "--totp", "--qr-png", png)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if !strings.Contains(out, "reviewer alice added") || !strings.Contains(out, "otpauth://totp/Keyport:alice?") || !strings.Contains(out, "█") {
		t.Fatalf("add output:\n%s", out)
	}
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("QR PNG: %v", err)
	}
	if _, _, err := runWithStdin(t, env, "short\n", cmd, "add", "--username", "bob"); exitCode(err) != 1 || !strings.Contains(err.Error(), "at least 12") {
		t.Fatalf("short password: %v", err)
	}
	if _, _, err := runWithStdin(t, env, "", cmd, "add", "--username", "bob"); exitCode(err) != 2 {
		t.Fatalf("no password: %v", err)
	}
	if _, _, err := runWithStdin(t, env, "", cmd, "add", "--password", "x", "--username", "bob"); exitCode(err) != 2 {
		t.Fatalf("a --password flag must not exist: %v", err)
	}
	noEnc := validKeys()
	noEnc["KEYPORT_DATABASE_URL"], noEnc["KEYPORT_AUDIT_KEY"] = env["KEYPORT_DATABASE_URL"], env["KEYPORT_AUDIT_KEY"]
	delete(noEnc, "KEYPORT_ENCRYPTION_KEY")
	if _, _, err := runWithStdin(t, noEnc, "a long enough password\n", cmd, "add", "--username", "carol", "--totp"); exitCode(err) != 2 || !strings.Contains(err.Error(), "KEYPORT_ENCRYPTION_KEY") {
		t.Fatalf("--totp without the encryption key: %v", err)
	}
	for _, args := range [][]string{{"disable", "--username", "alice"}, {"enable", "--username", "alice"}, {"disable", "--username", "alice"}} {
		if _, _, err := runCmd(t, env, append([]string{cmd}, args...)...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if _, _, err := runWithStdin(t, env, "another long password\n", cmd, "reset-password", "--username", "alice", "--remove-totp"); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if out, _, err := runCmd(t, env, cmd, "unlock", "--username", "Alice"); err != nil || !strings.Contains(out, "locks on reviewer alice lifted") {
		t.Fatalf("unlock: %v %q", err, out)
	}
	out, _, err = runCmd(t, env, cmd, "list")
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "disabled") || strings.Contains(out, " yes ") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, env, "audit", "verify")
	if err != nil || !strings.HasPrefix(out, "verified 12 events") {
		t.Fatalf("verify after 6 audited changes (intent and outcome each): %v %q", err, out)
	}
}
