package auditsink

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
)

// Options tune delivery; zero values take the defaults.
type Options struct {
	Batch      int           // events per send (500)
	Poll       time.Duration // how often an idle sink looks for new events (100 ms: one indexed read, by one instance)
	MinBackoff time.Duration // first wait after a failure (1 s), doubled up to MaxBackoff with ±25 % jitter
	MaxBackoff time.Duration // (60 s)
	LockRetry  time.Duration // how often a standby instance tries to take a sink (2 s)
}

func (o *Options) defaults() {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.LockRetry <= 0 {
		o.LockRetry = 2 * time.Second
	}
}

// Streamer delivers the trail to every configured sink.
type Streamer struct {
	pool    *pgxpool.Pool
	targets []Target
	log     *slog.Logger
	o       Options
	stats   map[string]*stats // by sink name; fixed after New
}

// stats is what this instance saw of one sink, for metrics.
type stats struct {
	failures atomic.Int64 // failed attempts since start (a counter)
	sent     atomic.Int64 // events sent since start, duplicates included
	active   atomic.Bool  // this instance holds the sink's lock
}

// New returns a Streamer for targets; Run starts it.
func New(pool *pgxpool.Pool, targets []Target, log *slog.Logger, o Options) *Streamer {
	o.defaults()
	s := &Streamer{pool: pool, targets: targets, log: log, o: o, stats: map[string]*stats{}}
	for _, t := range targets {
		s.stats[t.Name] = &stats{}
	}
	return s
}

// Targets lists the configured sinks.
func (s *Streamer) Targets() []Target { return s.targets }

// Prepare creates each sink's cursor. A new sink starts at 0: it receives
// the whole trail, oldest first.
func (s *Streamer) Prepare(ctx context.Context) error {
	q := db.New(s.pool)
	for _, t := range s.targets {
		ensure := q.EnsureSinkCursor
		if t.fromHead {
			ensure = q.EnsureSinkCursorAtHead
		}
		if err := ensure(ctx, t.Name, t.Display); err != nil {
			return err
		}
	}
	return nil
}

// Run delivers to every sink until ctx ends.
func (s *Streamer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range s.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runSink(ctx, t)
		}()
	}
	wg.Wait()
}

// lockKey is the advisory lock that makes one instance at a time deliver
// the sink named name (class 4243; 4242 is the key-creation lock).
func lockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// runSink takes the sink's lock (waiting while another instance holds it)
// and delivers until ctx ends or the lock's connection is lost.
func (s *Streamer) runSink(ctx context.Context, t Target) {
	st := s.stats[t.Name]
	for ctx.Err() == nil {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			sleep(ctx, s.o.LockRetry)
			continue
		}
		var got bool
		err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(4243, $1)`, lockKey(t.Name)).Scan(&got)
		if err != nil || !got {
			conn.Release()
			sleep(ctx, s.o.LockRetry)
			continue
		}
		st.active.Store(true)
		s.log.InfoContext(ctx, "audit sink delivering", "sink", t.Name, "target", t.Display)
		err = s.deliver(ctx, t, st, func() error { return conn.Ping(ctx) })
		st.active.Store(false)
		// Closing the connection (not returning it to the pool) releases the
		// session lock even when unlocking would fail.
		conn.Conn().Close(context.WithoutCancel(ctx))
		conn.Release()
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "audit sink stopped; retrying", "sink", t.Name, "err", err)
			sleep(ctx, s.o.LockRetry)
		}
	}
}

// deliver is the loop of an instance that holds t's lock. pos is how far
// this instance has sent (it may run ahead of the cursor while a syslog
// receiver's writes settle); after a failure it falls back to the cursor.
func (s *Streamer) deliver(ctx context.Context, t Target, st *stats, lockAlive func() error) error {
	q := db.New(s.pool)
	sink, err := t.Open()
	if err != nil {
		s.fail(ctx, q, t, st, err)
		return err
	}
	defer sink.Close()
	cursor, err := q.SinkCursorID(ctx, t.Name)
	if err != nil {
		return err
	}
	pos := cursor
	backoff := s.o.MinBackoff
	lastLockCheck := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastLockCheck) > 10*time.Second {
			if err := lockAlive(); err != nil {
				return fmt.Errorf("lost the sink's lock connection: %w", err)
			}
			lastLockCheck = time.Now()
		}
		events, err := q.AuditEventsAfter(ctx, pos, s.o.Batch)
		if err != nil {
			return err
		}
		batch := make([]audit.ExportRecord, len(events))
		for i := range events {
			batch[i] = audit.RecordOf(&events[i])
		}
		acked, err := sink.Send(ctx, batch)
		if err != nil {
			s.fail(ctx, q, t, st, err)
			pos = cursor // resend everything not acknowledged
			sleep(ctx, jitter(backoff))
			backoff = min(2*backoff, s.o.MaxBackoff)
			continue
		}
		backoff = s.o.MinBackoff
		if len(batch) > 0 {
			pos = batch[len(batch)-1].ID
			st.sent.Add(int64(len(batch)))
		}
		if acked > cursor {
			if err := q.AdvanceSinkCursor(ctx, t.Name, acked, time.Now()); err != nil {
				return err
			}
			cursor = acked
		}
		if len(batch) < s.o.Batch {
			sleep(ctx, s.o.Poll)
		}
	}
	return nil
}

func (s *Streamer) fail(ctx context.Context, q *db.Queries, t Target, st *stats, err error) {
	st.failures.Add(1)
	s.log.WarnContext(ctx, "audit sink delivery failed", "sink", t.Name, "err", err)
	if rerr := q.RecordSinkFailure(context.WithoutCancel(ctx), t.Name, err.Error(), time.Now()); rerr != nil {
		s.log.WarnContext(ctx, "cannot record the audit sink failure", "sink", t.Name, "err", rerr)
	}
}

// jitter spreads d by ±25 %, so instances and sinks do not retry in step.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + time.Duration(rand.Int64N(int64(d)/2+1))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Health is one sink's state for people: the Integrity page, the CLI,
// metrics.
type Health struct {
	db.SinkCursor
	LagEvents  int64
	LagSeconds float64
	Active     bool  // this instance is the one delivering it
	Failed     int64 // failed attempts seen by this instance since start
}

// Health reads every sink's cursor and lag, with what this instance saw.
func (s *Streamer) Health(ctx context.Context) ([]Health, error) {
	return read(ctx, s.pool, s.stats)
}

// Read reports every sink with a cursor in the database, configured in this
// process or not: the CLI reads what the portals configured.
func Read(ctx context.Context, pool *pgxpool.Pool) ([]Health, error) {
	return read(ctx, pool, nil)
}

func read(ctx context.Context, pool *pgxpool.Pool, local map[string]*stats) ([]Health, error) {
	q := db.New(pool)
	cursors, err := q.SinkCursors(ctx)
	if err != nil {
		return nil, err
	}
	head, err := q.AuditHeadID(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Health, 0, len(cursors))
	for _, c := range cursors {
		h := Health{SinkCursor: c, LagEvents: max(head-c.LastID, 0)}
		if h.LagEvents > 0 {
			oldest, err := q.AuditEventTime(ctx, c.LastID+1)
			if err != nil {
				return nil, err
			}
			if !oldest.IsZero() {
				h.LagSeconds = time.Since(oldest).Seconds()
			}
		}
		if st := local[c.Name]; st != nil {
			h.Active = st.active.Load()
			h.Failed = st.failures.Load()
		}
		out = append(out, h)
	}
	return out, nil
}

// ErrNoSinks is what the CLI says when no sink was ever configured.
var ErrNoSinks = errors.New("no audit sink has a cursor: set KEYPORT_AUDIT_SINKS on the portal")
