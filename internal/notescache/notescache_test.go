package notescache

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const region, tenantID = kp.Region("na1"), "tenant-a"

// instance is one portal's view of the database: its own pool and cache.
type instance struct {
	pool   *pgxpool.Pool
	cache  *Cache
	events chan string
	clock  atomic.Int64 // seconds added to the real time
}

func newInstance(t *testing.T, dbURL string) *instance {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal("open pool")
	}
	t.Cleanup(pool.Close)
	in := &instance{pool: pool, events: make(chan string, 100)}
	in.cache = New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), 0,
		func() time.Time { return time.Now().Add(time.Duration(in.clock.Load()) * time.Second) })
	in.cache.events = func(s string) { in.events <- s }
	return in
}

// run starts the listener and waits until it listens.
func (in *instance) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); in.cache.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	in.await(t, "listening")
}

// await waits for the listener to report want (every other event is
// skipped); a test that never hears it fails by the test timeout.
func (in *instance) await(t *testing.T, want string) {
	t.Helper()
	for got := range in.events {
		if got == want {
			return
		}
	}
}

func (in *instance) label(t *testing.T) string {
	t.Helper()
	n, err := in.cache.Notes(t.Context(), region, tenantID, []string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	return n.Meta["key-1"].Label
}

// setLabel changes the key's label on another instance; silently, with
// the triggers off (as a lost notification), when silent.
func setLabel(t *testing.T, pool *pgxpool.Pool, label string, silent bool) {
	t.Helper()
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		if silent {
			if _, err := tx.Exec(t.Context(), `SET LOCAL session_replication_role = replica`); err != nil {
				return err
			}
		}
		return db.New(tx).InsertKeyMeta(t.Context(), kp.KeyMeta{Region: region, TenantID: tenantID, AccessKeyID: "key-1",
			OwnerUserID: "u1", Label: label})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The cache serves a change made on another instance once its
// notification has arrived; a notification lost while the listener's
// connection is down (killed with pg_terminate_backend) cannot leave it
// stale, because reconnecting drops everything; and a notification lost
// on a live connection is bounded by the TTL.
func TestNotesCacheFollowsOtherInstances(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	a, b := newInstance(t, dbURL), newInstance(t, dbURL)
	setLabel(t, b.pool, "one", false)
	if got := a.label(t); got != "one" {
		t.Fatalf("before listening: %q", got)
	}
	a.run(t)

	if got := a.label(t); got != "one" {
		t.Fatalf("first read: %q", got)
	}
	setLabel(t, b.pool, "silent", true)
	if got := a.label(t); got != "one" {
		t.Fatalf("with no notification the cache should still serve what it read: %q", got)
	}

	setLabel(t, b.pool, "two", false)
	a.await(t, Key(region, tenantID))
	if got := a.label(t); got != "two" {
		t.Fatalf("after another instance's change was notified: %q, want two", got)
	}

	var killed int
	if err := b.pool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN `+Channel+`'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("kill the listener: %d killed, %v", killed, err)
	}
	setLabel(t, b.pool, "three", true)
	a.await(t, "listening")
	if got := a.label(t); got != "three" {
		t.Fatalf("after the listener reconnected: %q, want three", got)
	}

	setLabel(t, b.pool, "four", true)
	if got := a.label(t); got != "three" {
		t.Fatalf("within the TTL: %q", got)
	}
	a.clock.Store(int64(DefaultTTL / time.Second))
	if got := a.label(t); got != "four" {
		t.Fatalf("past the TTL: %q, want four", got)
	}

	// This instance's own change (Invalidate, as the audit writer calls it)
	// is served at once, before any notification.
	setLabel(t, a.pool, "five", true)
	a.cache.Invalidate(region, tenantID)
	if got := a.label(t); got != "five" {
		t.Fatalf("after Invalidate: %q, want five", got)
	}
}
