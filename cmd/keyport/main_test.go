package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func runCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func validKeys() map[string]string {
	return map[string]string{
		"KEYPORT_SESSION_KEY":    newKey(),
		"KEYPORT_ENCRYPTION_KEY": newKey(),
		"KEYPORT_AUDIT_KEY":      newKey(),
	}
}

func TestServeRefusesBadConfigWithOneLinePerProblem(t *testing.T) {
	env := validKeys()
	env["KEYPORT_SESSION_KEY"] = "c2hvcnQ=" // "short"
	_, _, err := runCmd(t, env, "serve")
	if code := exitCode(err); code != 2 {
		t.Fatalf("exit code = %d, want 2 (err %v)", code, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "KEYPORT_DATABASE_URL:") || !strings.HasPrefix(lines[1], "KEYPORT_SESSION_KEY: too short") {
		t.Fatalf("want one line for the missing database URL and one for the short key, got:\n%s", err)
	}
	for _, l := range lines {
		if strings.Contains(l, "goroutine") || strings.Contains(l, ".go:") {
			t.Errorf("error looks like a stack trace: %q", l)
		}
	}
}

// A server that accepts connections and never answers is the worst case for
// "database unreachable": the portal must give up within its 5 s budget.
func TestServeReportsUnreachableDatabaseQuickly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = "postgres://keyport:pw@" + ln.Addr().String() + "/keyport?sslmode=disable"
	env["KEYPORT_ADDR"] = "127.0.0.1:0"
	start := time.Now()
	_, _, err = runCmd(t, env, "serve")
	if err == nil {
		t.Fatal("serve started without a database")
	}
	if took := time.Since(start); took > dbOpenTimeout+3*time.Second {
		t.Errorf("took %v to report the unreachable database", took)
	}
	if !strings.Contains(err.Error(), "KEYPORT_DATABASE_URL") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("error = %q, want it to name the variable and say unreachable", err)
	}
	if strings.Contains(err.Error(), "pw@") {
		t.Error("error leaks the database password")
	}
}

func TestEverySubcommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := runCmd(t, nil, c.name, "--help")
			if err != nil {
				t.Fatalf("%s --help: %v", c.name, err)
			}
			if !strings.Contains(out, "Usage: keyport "+c.name) {
				t.Errorf("%s --help printed %q", c.name, out)
			}
		})
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	_, stderr, err := runCmd(t, nil, "frobnicate")
	if exitCode(err) != 2 || !strings.Contains(stderr, "Commands:") {
		t.Fatalf("exit %d, stderr %q", exitCode(err), stderr)
	}
}

func TestVersionPrintsBuildInfo(t *testing.T) {
	out, _, err := runCmd(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "keyport ") || !strings.Contains(out, "commit ") || !strings.Contains(out, "built ") {
		t.Fatalf("version: %q, %v", out, err)
	}
}

func TestGenkeyPrintsAValidKey(t *testing.T) {
	a, _, _ := runCmd(t, nil, "genkey")
	b, _, _ := runCmd(t, nil, "genkey")
	if strings.TrimSpace(a) == strings.TrimSpace(b) {
		t.Fatal("genkey printed the same key twice")
	}
	env := validKeys()
	env["KEYPORT_AUDIT_KEY"] = strings.TrimSpace(a)
	env["KEYPORT_DATABASE_URL"] = "postgres://x@127.0.0.1:1/x"
	env["KEYPORT_ADDR"] = "127.0.0.1:0"
	_, _, err := runCmd(t, env, "serve")
	if exitCode(err) == 2 {
		t.Fatalf("a genkey key was refused as configuration: %v", err)
	}
}

func env2(m map[string]string, stderr *bytes.Buffer) env {
	return env{getenv: func(k string) string { return m[k] }, stdin: strings.NewReader(""), stdout: stderr, stderr: stderr}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
