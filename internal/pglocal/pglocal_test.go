package pglocal_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyport/keyport/internal/pglocal"
)

// newCluster returns a Cluster in a fresh directory the server user can
// reach (t.TempDir's parent is 0700, closed to it when we run as root).
func newCluster(t *testing.T) *pglocal.Cluster {
	t.Helper()
	parent, err := pglocal.MkdirTemp("", "pglocal-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	c, err := pglocal.New(filepath.Join(parent, "pg"), pglocal.Options{Settings: pglocal.FastSettings()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func exec1(t *testing.T, ctx context.Context, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, ctx context.Context, url, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func postmasterPID(t *testing.T, c *pglocal.Cluster) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatalf("read postmaster.pid: %v", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(first)
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func assertStopped(t *testing.T, c *pglocal.Cluster, pid int) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(c.DataDir(), "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: got err %v, want not exist", err)
	}
	if alive(pid) {
		t.Errorf("postmaster %d still alive after Stop", pid)
	}
}

func TestClusterKeepsDataAcrossRestarts(t *testing.T) {
	ctx := t.Context()
	c := newCluster(t)
	t.Cleanup(func() { _ = c.Stop(context.Background()) })

	began := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("first start (initdb + start): %v", time.Since(began))
	if got := queryInt(t, ctx, c.URL("postgres"), "SELECT 1"); got != 1 {
		t.Fatalf("SELECT 1: got %d, want 1", got)
	}
	exec1(t, ctx, c.URL("postgres"), "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
	pid := postmasterPID(t, c)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertStopped(t, c, pid)

	began = time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("second start: %v", time.Since(began))
	if got := queryInt(t, ctx, c.URL("postgres"), "SELECT n FROM kept"); got != 42 {
		t.Errorf("kept row: got %d, want 42", got)
	}
	pid = postmasterPID(t, c)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertStopped(t, c, pid)
}

func TestClusterDirectoryIsPrivate(t *testing.T) {
	ctx := t.Context()
	c := newCluster(t)
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{c.Dir(): 0o700, filepath.Join(c.Dir(), "password"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s: got %v, want %v", path, got, want)
		}
	}
	// Over TCP the password is required.
	u, err := url.Parse(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", "wrong")
	conn, err := pgx.Connect(ctx, u.String())
	if err == nil {
		conn.Close(ctx)
		t.Fatal("connect with a wrong password: got nil error")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("connect with a wrong password: got %v, want invalid_password (28P01)", err)
	}
}

func TestStartStopsServerLeftRunning(t *testing.T) {
	ctx := t.Context()
	first := newCluster(t)
	t.Cleanup(func() { _ = first.Stop(context.Background()) })
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exec1(t, ctx, first.URL("postgres"), "CREATE TABLE kept (n int)")
	oldPID := postmasterPID(t, first)

	// A second Cluster on the same directory stands for a new process after
	// the first was killed without stopping its server.
	second, err := pglocal.New(first.Dir(), pglocal.Options{Settings: pglocal.FastSettings()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop(context.Background()) })
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(oldPID) {
		t.Errorf("leftover postmaster %d still alive", oldPID)
	}
	if got := queryInt(t, ctx, second.URL("postgres"), "SELECT count(*) FROM kept"); got != 0 {
		t.Errorf("rows in kept: got %d, want 0", got)
	}
}

func TestStartIgnoresStalePIDFile(t *testing.T) {
	ctx := t.Context()
	c := newCluster(t)
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(c.DataDir(), "postmaster.pid")
	content, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// A pid file naming a process that has exited, as kill -9 would leave.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(content), "\n")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(dead.Process.Pid)+"\n"+rest), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start over a stale postmaster.pid: %v", err)
	}
	if got := queryInt(t, ctx, c.URL("postgres"), "SELECT 1"); got != 1 {
		t.Errorf("SELECT 1: got %d, want 1", got)
	}
}

func TestNewWithoutServerBinaries(t *testing.T) {
	_, err := pglocal.New(t.TempDir(), pglocal.Options{SearchPath: []string{t.TempDir()}})
	if !errors.Is(err, pglocal.ErrNoServer) {
		t.Fatalf("New: got %v, want ErrNoServer", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("error %q does not say how to install", err)
	}
}
