package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/db"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestParallelDatabasesAreIsolated(t *testing.T) {
	names := make(chan string, 2)
	t.Run("group", func(t *testing.T) {
		for _, label := range []string{"first", "second"} {
			t.Run(label, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				pool := NewPool(t)
				var name string
				if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
					t.Fatal(err)
				}
				names <- name
				if _, err := pool.Exec(ctx, "CREATE TABLE mine (label text)"); err != nil {
					t.Fatal(err)
				}
				if _, err := pool.Exec(ctx, "INSERT INTO mine VALUES ($1)", label); err != nil {
					t.Fatal(err)
				}
				var labels []string
				rows, err := pool.Query(ctx, "SELECT label FROM mine")
				if err != nil {
					t.Fatal(err)
				}
				if labels, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
					t.Fatal(err)
				}
				if len(labels) != 1 || labels[0] != label {
					t.Errorf("rows in mine: got %q, want [%q]", labels, label)
				}
			})
		}
	})
	close(names)
	var got []string
	for n := range names {
		got = append(got, n)
	}
	if len(got) != 2 || got[0] == got[1] {
		t.Fatalf("databases: got %q, want two distinct", got)
	}
	// Both were dropped when their tests ended.
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, AdminURL(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", got).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("databases left after their tests: got %d, want 0", left)
	}
}

func TestNewPoolIsMigrated(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := NewPool(t)
	st, err := db.Status(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if !st.UpToDate() || st.Current == 0 {
		t.Errorf("schema status: got %+v, want current == want > 0", st)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM instance").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("instance rows: got %d, want 1", n)
	}
}

func TestNewEmptyDatabaseHasNoSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_version') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("schema_version exists in an empty database")
	}
	// The migrations run on it, as migration tests will do.
	st, err := db.Migrate(ctx, conn.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	if !st.UpToDate() {
		t.Errorf("after Migrate: got %+v, want up to date", st)
	}
}

func TestNewDatabaseURLConnects(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Error("NewDatabase URL: got a non-superuser, want superuser")
	}
}

// fatalTB records Fatal instead of stopping the goroutine of a real test.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

type fatalled struct{}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatal(args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprint(args...)
	f.mu.Unlock()
	panic(fatalled{})
}
func (f *fatalTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

func TestWithoutMainFailsWithTheFix(t *testing.T) {
	f := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatalled); !ok {
					panic(r)
				}
			}
		}()
		readyFrom(f, nil)
	}()
	if !strings.Contains(f.msg, "os.Exit(pgtest.Main(m))") {
		t.Errorf("message: got %q, want the TestMain line", f.msg)
	}
}

// TestTimings logs what a database costs; run with -v to see it.
func TestTimings(t *testing.T) {
	s := ready(t)
	if s.cluster != nil {
		t.Logf("cluster start (MkdirTemp, initdb, start): %v", s.startDur)
	}
	NewPool(t) // warm-up
	const n = 20
	var total, worst time.Duration
	for range n {
		t.Run("one", func(t *testing.T) {
			began := time.Now()
			pool := NewPool(t)
			if err := pool.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			d := time.Since(began)
			total += d
			worst = max(worst, d)
		})
	}
	t.Logf("NewPool + first ping, after warm-up: mean %v, worst %v over %d", total/n, worst, n)
}
