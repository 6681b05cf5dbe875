// Package pgtest gives tests fresh PostgreSQL databases in milliseconds:
// each one is cloned (CREATE DATABASE … TEMPLATE) from a template database
// migrated once per server and per migration set, and dropped when the test
// ends. A package opts in with one line:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// With KEYPORT_TEST_DATABASE_URL (a superuser URL) set, every test process
// shares that server; otherwise each test process starts its own pglocal
// cluster on first use, in a temp directory (on /dev/shm when it is a roomy
// tmpfs), and stops and removes it when the tests are done. Directories left
// by test processes that were killed are removed by the next one. Only tests
// import this package.
package pgtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/pglocal"
	"github.com/keyport/keyport/migrations"
)

// EnvURL names the variable holding a shared server's superuser URL.
const EnvURL = "KEYPORT_TEST_DATABASE_URL"

// templateLockKey is the advisory lock (on the maintenance database) under
// which test processes sharing a server create the template: an arbitrary
// constant, "kptmpl" in ASCII.
const templateLockKey int64 = 0x6b70746d706c

const setupTimeout = 2 * time.Minute

// current is the test process's server, set by Main. It is package state
// because testing.M offers nowhere else for Main to leave it where NewPool(t)
// can find it, and a test process has exactly one: Main sets it before
// m.Run and clears it after.
var current atomic.Pointer[server]

// server is one PostgreSQL server and what this process made on it. The
// cluster starts, and the template is made, on first use, so tests that need
// no database pay nothing.
type server struct {
	envURL string // KEYPORT_TEST_DATABASE_URL, or empty for a pglocal cluster
	prefix string // of every database this process creates
	seq    atomic.Int64

	once        sync.Once
	err         error
	base        *url.URL      // superuser URL; the path is replaced per database
	maintenance string        // the database named in base, where databases are created from
	admin       *pgxpool.Pool // on the maintenance database
	template    string
	cluster     *pglocal.Cluster
	tmpDir      string
	startDur    time.Duration
}

// Main runs the tests with a server for this package and returns the exit
// code for os.Exit. A pglocal cluster it started is stopped and removed after
// m.Run, whether tests pass, fail or m.Run panics.
func Main(m *testing.M) (code int) {
	var tag [3]byte
	_, _ = rand.Read(tag[:]) // crypto/rand.Read never fails
	s := &server{
		envURL: os.Getenv(EnvURL),
		// pid and a random tag: unique among processes sharing one server,
		// even from several machines.
		prefix: fmt.Sprintf("kpt_%d_%s", os.Getpid(), hex.EncodeToString(tag[:])),
	}
	current.Store(s)
	defer func() {
		current.Store(nil)
		if err := s.close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			code = cmp.Or(code, 1)
		}
	}()
	return m.Run()
}

// NewPool returns a pool on a fresh database cloned from the migrated
// template; the pool is closed and the database dropped in t.Cleanup.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dbURL := NewDatabase(t)
	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal("pgtest: open pool: invalid URL") // pgx's parse errors can echo the password
	}
	t.Cleanup(pool.Close) // runs before NewDatabase's drop: cleanups are LIFO
	return pool
}

// NewDatabase returns the superuser URL of a fresh database cloned from the
// migrated template, dropped in t.Cleanup.
func NewDatabase(t testing.TB) string {
	t.Helper()
	s := ready(t)
	return s.create(t, s.template)
}

// NewEmptyDatabase returns the superuser URL of a fresh database with no
// migration applied, dropped in t.Cleanup.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return ready(t).create(t, "template1")
}

// AdminURL returns a superuser URL for dbname on the test server.
func AdminURL(t testing.TB, dbname string) string {
	t.Helper()
	return ready(t).url(dbname)
}

// ready returns the process's server, started and with its template made,
// or fails the test.
func ready(t testing.TB) *server {
	t.Helper()
	return readyFrom(t, current.Load())
}

func readyFrom(t testing.TB, s *server) *server {
	t.Helper()
	if s == nil {
		t.Fatal("pgtest: Main was not called; add to this package's tests:\n" +
			"\tfunc TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }")
	}
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		s.err = s.setup(ctx)
	})
	if s.err != nil {
		t.Fatalf("pgtest: %v", s.err)
	}
	return s
}

func (s *server) setup(ctx context.Context) error {
	if s.envURL == "" {
		if err := s.startCluster(ctx); err != nil {
			return err
		}
	} else {
		u, err := url.Parse(s.envURL)
		if err != nil {
			return fmt.Errorf("%s: not a URL", EnvURL) // never echo it: it holds a password
		}
		s.base = u
	}
	s.maintenance = cmp.Or(strings.TrimPrefix(s.base.Path, "/"), "postgres")
	admin, err := pgxpool.New(ctx, s.url(s.maintenance))
	if err != nil {
		return errors.New("connect to the test server: invalid URL") // pgx's parse errors can echo the password
	}
	s.admin = admin
	if err := s.admin.Ping(ctx); err != nil {
		return fmt.Errorf("connect to the test server: %w", err)
	}
	name, err := templateName()
	if err != nil {
		return err
	}
	if err := s.makeTemplate(ctx, name); err != nil {
		return fmt.Errorf("make template database %s: %w", name, err)
	}
	s.template = name
	return nil
}

func (s *server) startCluster(ctx context.Context) error {
	began := time.Now()
	parent := scratchParent()
	reapOrphans(parent)
	dir, err := pglocal.MkdirTemp(parent, tmpPattern)
	if err != nil {
		return err
	}
	s.tmpDir = dir
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("record owner of test cluster: %w", err)
	}
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	c, err := pglocal.New(filepath.Join(dir, "pg"), pglocal.Options{
		Settings: pglocal.FastSettings(),
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	s.cluster = c
	u, err := url.Parse(c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("parse cluster URL: %w", err)
	}
	s.base = u
	s.startDur = time.Since(began)
	return nil
}

// scratchParent returns where the throw-away cluster goes: /dev/shm when it
// is a roomy tmpfs, since CREATE DATABASE … TEMPLATE copies the template's
// ~8 MB, which took 25-30 ms there against 140-250 ms on this ext4 disk even
// with fsync off; otherwise the system temp directory. A container's default
// 64 MB /dev/shm is too small and also holds postgres's shared memory.
func scratchParent() string {
	const shm, minFree = "/dev/shm", 1 << 30
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err != nil || uint64(st.Bavail)*uint64(st.Bsize) < minFree {
		return ""
	}
	if fi, err := os.Stat(shm); err != nil || fi.Mode().Perm()&0o002 == 0 {
		return "" // not world-writable: the server user could not use it
	}
	return shm
}

const (
	tmpPattern = "keyport-pgtest-"
	ownerFile  = "owner.pid"
)

// reapOrphans removes the cluster directories of test processes that died
// without cleaning up (kill -9, a timeout panic, which runs no deferred
// call): on /dev/shm they would hold memory until reboot. It leaves any
// whose owner or server still runs; on Linux the server gets a
// parent-death signal, elsewhere a live one is left for a human.
func reapOrphans(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(cmp.Or(parent, os.TempDir()), tmpPattern+"*"))
	for _, dir := range dirs {
		if pidAlive(filepath.Join(dir, ownerFile)) || pidAlive(filepath.Join(dir, "pg", "data", "postmaster.pid")) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, ownerFile)); err != nil {
			continue // not one of ours, or still being set up
		}
		_ = os.RemoveAll(dir) // best effort: another process may be reaping it too
	}
}

// pidAlive reports whether the pid on the first line of file runs.
func pidAlive(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// templateName is derived from every migration file's name and contents, so
// a changed migration set gets its own template and never a stale one.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return "kpt_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// makeTemplate creates and migrates the template unless another process
// already did. Being marked a template is the sign it is complete: one left
// half-migrated by a killed process is dropped and made again.
func (s *server) makeTemplate(ctx context.Context, name string) error {
	// A connection of its own, not the pool's: closing it frees the lock
	// whatever happened, so no other process can wait on it forever.
	conn, err := pgx.Connect(ctx, s.url(s.maintenance))
	if err != nil {
		return fmt.Errorf("connect for template lock: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("take template lock: %w", err)
	}
	var done bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&done)
	if err != nil {
		return fmt.Errorf("look for template: %w", err)
	}
	if done {
		return nil
	}
	ident := pgx.Identifier{name}.Sanitize()
	for _, sql := range []string{
		"DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)",
		"CREATE DATABASE " + ident,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	if _, err := db.Migrate(ctx, s.url(name)); err != nil {
		return err
	}
	// No connections allowed: CREATE DATABASE … TEMPLATE fails while anyone is connected to it.
	sql := "ALTER DATABASE " + ident + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("mark template: %w", err)
	}
	return nil
}

// create makes a database from template and registers its drop.
func (s *server) create(t testing.TB, template string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", s.prefix, s.seq.Add(1))
	ident := pgx.Identifier{name}.Sanitize()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s from %s: %v", name, template, err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.url(name)
}

func (s *server) url(dbname string) string {
	u := *s.base
	u.Path = "/" + dbname
	u.RawPath = ""
	return u.String()
}

// close releases what setup made: the admin pool, then the cluster and its
// directory. The template stays on a shared server for the next run.
func (s *server) close() error {
	if s.admin != nil {
		s.admin.Close()
	}
	var errs []error
	if s.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.cluster.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.tmpDir != "" {
		if err := os.RemoveAll(s.tmpDir); err != nil {
			errs = append(errs, fmt.Errorf("remove test cluster: %w", err))
		}
	}
	return errors.Join(errs...)
}
