// Package notescache keeps each tenant's key notes (db.TenantNotes: key
// metadata, open creates and rotations, owners' names) between views of the
// keys page, so a view reads them from memory instead of the database.
//
// Invalidation is PostgreSQL's LISTEN/NOTIFY: migration 018's triggers
// notify channel keyport_tenant_notes with "<region> <tenant id>" on every
// change to the tables the notes are read from, whoever makes it (any
// portal instance, the CLI, a migration). Stale state is bounded:
//
//   - the cache serves entries only while its listener connection is
//     listening; when that connection fails, everything is dropped before
//     the error is even logged, and nothing is cached until LISTEN has
//     succeeded again (then everything is dropped once more, because
//     notifications sent meanwhile are lost);
//   - an entry is served for at most TTL (5 s by default) after the read
//     that filled it began, which bounds a connection that hangs without
//     failing and the one part of the notes that changes with no write:
//     a create whose sending instance died.
//
// This instance's own writes also invalidate at once (Invalidate, called
// by the audit writer on every non-view event), so a person's next page
// never waits for the notification of their own change.
package notescache

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// All is the payload that drops every tenant's notes.
const All = "*"

// Channel is the NOTIFY channel migration 018's triggers use.
const Channel = "keyport_tenant_notes"

// DefaultTTL bounds how long an entry is served without a notification.
const DefaultTTL = 5 * time.Second

// maxTenants bounds memory: past it, everything is dropped.
const maxTenants = 4096

// Cache is safe for concurrent use. It caches nothing until Run is
// listening.
type Cache struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	live    bool   // the listener is listening
	epoch   uint64 // bumped whenever everything is dropped
	tenants map[string]*tenant

	// events, in tests, hears "listening" and each notification's payload
	// once it has been applied.
	events func(string)
}

type tenant struct {
	gen     uint64 // bumped by every invalidation of this tenant
	entries map[string]entry
}

type entry struct {
	notes *db.TenantNotes
	at    time.Time // when the read that filled it began
}

// New returns a cache reading from pool; ttl 0 means DefaultTTL, now nil
// means time.Now.
func New(pool *pgxpool.Pool, log *slog.Logger, ttl time.Duration, now func() time.Time) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{pool: pool, log: log, ttl: ttl, now: now, tenants: map[string]*tenant{}}
}

// Key is the tenant key notifications carry.
func Key(region kp.Region, tenantID string) string { return string(region) + " " + tenantID }

// Notes returns the tenant's notes with the names of userIDs, from memory
// when a live entry holds them. The caller must not change what the
// result's Meta map holds; the rest is its own copy.
func (c *Cache) Notes(ctx context.Context, region kp.Region, tenantID string, userIDs []string) (*db.TenantNotes, error) {
	key := Key(region, tenantID)
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	idsKey := strings.Join(ids, "\x00")
	start := c.now()
	c.mu.Lock()
	t := c.tenants[key]
	if c.live && t != nil {
		if e, ok := t.entries[idsKey]; ok && start.Sub(e.at) < c.ttl {
			c.mu.Unlock()
			return own(e.notes), nil
		}
	}
	epoch, gen, live := c.epoch, uint64(0), c.live
	if t != nil {
		gen = t.gen
	}
	c.mu.Unlock()
	notes, err := db.New(c.pool).TenantNotes(ctx, region, tenantID, ids)
	if err != nil || !live {
		return notes, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Store only if nothing was invalidated while reading: the read may
	// predate the change the invalidation announced.
	if !c.live || c.epoch != epoch {
		return notes, nil
	}
	t = c.tenants[key]
	if t == nil {
		if len(c.tenants) >= maxTenants {
			c.dropLocked()
			return notes, nil
		}
		t = &tenant{}
		c.tenants[key] = t
	}
	if t.gen != gen {
		return notes, nil
	}
	if t.entries == nil {
		t.entries = map[string]entry{}
	}
	t.entries[idsKey] = entry{notes: notes, at: start}
	return own(notes), nil
}

// own copies what callers change (names, pending creates).
func own(n *db.TenantNotes) *db.TenantNotes {
	out := *n
	out.Names = maps.Clone(n.Names)
	out.Rotations = maps.Clone(n.Rotations)
	out.Pending = slices.Clone(n.Pending)
	out.Ambiguous = slices.Clone(n.Ambiguous)
	return &out
}

// Invalidate drops the tenant's entries.
func (c *Cache) Invalidate(region kp.Region, tenantID string) { c.invalidate(Key(region, tenantID)) }

// invalidate drops key's entries; All drops every tenant's (a change to
// the global key policy).
func (c *Cache) invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if key == All {
		c.dropLocked()
		return
	}
	if t := c.tenants[key]; t != nil {
		t.gen++
		t.entries = nil
	}
}

// setLive drops everything and sets whether entries may be served.
func (c *Cache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.dropLocked()
}

func (c *Cache) dropLocked() {
	c.epoch++
	c.tenants = map[string]*tenant{}
}

// Run listens for notifications until ctx ends, reconnecting after a
// failure (100 ms, doubling to 5 s between tries).
func (c *Cache) Run(ctx context.Context) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.listen(ctx)
		c.setLive(false)
		if ctx.Err() != nil {
			return
		}
		c.log.WarnContext(ctx, "notes cache: listener lost; serving from the database until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen holds a connection of its own (taken from the pool, not returned)
// and applies notifications until it fails.
func (c *Cache) listen(ctx context.Context) error {
	pc, err := c.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	c.setLive(true)
	c.event("listening")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		c.invalidate(n.Payload)
		c.event(n.Payload)
	}
}

func (c *Cache) event(s string) {
	if c.events != nil {
		c.events(s)
	}
}
