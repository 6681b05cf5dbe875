package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/kp"
)

// ReplicaLag is how far behind the primary the replica may be before the
// reviewers' pages say what moment they show ("as of").
const ReplicaLag = 5 * time.Second

// replicaCheckEvery is how long one look at the replica is reused: a page
// makes several reads, and a busy portal many pages a second.
const replicaCheckEvery = time.Second

// replicaTimeout bounds the look: a replica that does not answer in it is
// treated as down and the read goes to the primary.
const replicaTimeout = time.Second

// replica is KEYPORT_DATABASE_READ_URL's pool and what was last seen of it.
type replica struct {
	pool       *pgxpool.Pool
	maxLag     time.Duration
	checkEvery time.Duration
	mu         sync.Mutex
	checked    time.Time
	last       ReadSource
	samples    []walSample // the primary's WAL positions seen, oldest first
}

// ReadSource is where a reviewer's request reads the trail from, and what
// its pages say about it.
type ReadSource struct {
	pool *pgxpool.Pool
	// Replica is true when the reads go to the replica.
	Replica bool
	// Fallback is true when a replica is configured but did not answer,
	// so the reads go to the primary.
	Fallback bool
	// AsOf is the last transaction the replica had replayed, when it is
	// more than the allowed lag behind the primary; zero otherwise.
	AsOf time.Time
	Lag  time.Duration
}

// Note is what a page says about its source; "" when it reads the primary
// or a replica that is up to date.
func (s ReadSource) Note() string {
	switch {
	case s.Fallback:
		return "Read from the primary database: the reviewers' replica is not answering."
	case s.Replica && !s.AsOf.IsZero():
		return fmt.Sprintf("As of %s: the replica these pages read from is %s behind the primary; newer events are not shown yet.",
			s.AsOf.UTC().Format("2006-01-02 15:04:05 UTC"), s.Lag.Round(time.Second))
	}
	return ""
}

type readSourceKey struct{}

// SetReplica makes the reviewers' reads (list, event pages, key history,
// activity, exports, credential report) go to pool, a streaming replica
// (KEYPORT_DATABASE_READ_URL), falling back to the primary when it does not
// answer. Writes, the integrity panel and every admin read stay on the
// primary. Call it while wiring, before serving. maxLag 0 means
// ReplicaLag; checkEvery (how long one look at the replica is reused) 0
// means a second.
func (r *Reader) SetReplica(pool *pgxpool.Pool, maxLag, checkEvery time.Duration) {
	if pool == nil {
		r.replica = nil
		return
	}
	r.replica = &replica{pool: pool, maxLag: cmp.Or(maxLag, ReplicaLag), checkEvery: cmp.Or(checkEvery, replicaCheckEvery)}
}

// ChooseRead decides where this request's reads go and returns a context
// carrying the choice, so every read of one page uses the same database
// and the page can say which (ReadSourceOf).
func (r *Reader) ChooseRead(ctx context.Context) context.Context {
	s := ReadSource{pool: r.pool}
	if r.replica != nil {
		s = r.replica.source(ctx, r.pool)
	}
	return context.WithValue(ctx, readSourceKey{}, &s)
}

// ReadSourceOf is the choice ChooseRead put in ctx (the zero ReadSource,
// the primary, when there is none).
func ReadSourceOf(ctx context.Context) ReadSource {
	if s, ok := ctx.Value(readSourceKey{}).(*ReadSource); ok {
		return *s
	}
	return ReadSource{}
}

// readPool is the pool a reviewer's read uses.
func (r *Reader) readPool(ctx context.Context) *pgxpool.Pool {
	if s, ok := ctx.Value(readSourceKey{}).(*ReadSource); ok && s.pool != nil {
		return s.pool
	}
	return r.pool
}

// onReplica runs a read on the chosen pool; if that is the replica and the
// read fails, the replica is marked down and the read is run again on the
// primary (the page then says so). Streaming reads do not use it: rows
// already sent cannot be taken back.
func (r *Reader) onReplica(ctx context.Context, read func(p *pgxpool.Pool) error) error {
	s, ok := ctx.Value(readSourceKey{}).(*ReadSource)
	if !ok || !s.Replica {
		return read(r.readPool(ctx))
	}
	err := read(s.pool)
	if err == nil || ctx.Err() != nil || !unreachable(err) {
		return err
	}
	r.replica.markDown()
	*s = ReadSource{pool: r.pool, Fallback: true}
	return read(r.pool)
}

// unreachable reports whether err says the database did not answer, as
// opposed to answering with an error (an SQL error, or "no such event",
// which on a replica may only mean it has not caught up yet).
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	return kp.KindOf(err) == kp.Internal && !errors.As(err, &pgErr)
}

func (rp *replica) markDown() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.checked, rp.last = time.Now(), ReadSource{Fallback: true}
}

// source looks at the replica (at most once per checkEvery) and says where
// to read.
//
// Up or down: a query within replicaTimeout answers, or not. Behind or not:
// WAL positions, not the replay timestamp alone, since an idle primary
// leaves the last replayed transaction old on a replica that has
// everything. Each look reads the primary's flushed WAL position (what a
// replica can have) and remembers it with the time; the replica is current
// if it has replayed up to the position just read. Otherwise it has
// everything the primary had at the newest remembered moment whose
// position it has replayed, and is behind by now minus that moment (with
// no such moment yet, by now minus pg_last_xact_replay_timestamp()). When
// that exceeds maxLag, pages say "as of" that moment.
func (rp *replica) source(ctx context.Context, primary *pgxpool.Pool) ReadSource {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if !rp.checked.IsZero() && time.Since(rp.checked) < rp.checkEvery {
		return rp.withPools(rp.last, primary)
	}
	rp.checked = time.Now()
	rp.last = rp.look(ctx, primary)
	return rp.withPools(rp.last, primary)
}

func (rp *replica) withPools(s ReadSource, primary *pgxpool.Pool) ReadSource {
	if s.Replica {
		s.pool = rp.pool
	} else {
		s.pool = primary
	}
	return s
}

// walSample is the primary's flushed WAL position at a moment.
type walSample struct {
	at  time.Time
	lsn uint64
}

// maxSamples bounds the remembered positions (one per look: minutes' worth).
const maxSamples = 256

func (rp *replica) look(ctx context.Context, primary *pgxpool.Pool) ReadSource {
	cctx, cancel := context.WithTimeout(ctx, replicaTimeout)
	defer cancel()
	var (
		primaryLSN string
		primaryNow time.Time
	)
	if err := primary.QueryRow(cctx, `SELECT pg_current_wal_flush_lsn()::text, now()`).Scan(&primaryLSN, &primaryNow); err != nil {
		return ReadSource{Replica: true} // the primary is the one in trouble: the replica is all there is
	}
	var (
		replayLSN *string
		replayAt  *time.Time
		now       time.Time
	)
	err := rp.pool.QueryRow(cctx, `SELECT pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp(), now()`).Scan(&replayLSN, &replayAt, &now)
	if err != nil {
		return ReadSource{Fallback: true}
	}
	s := ReadSource{Replica: true}
	if replayLSN == nil {
		return s // not in recovery: a primary (or a promoted replica) is never behind itself
	}
	want, err1 := parseLSN(primaryLSN)
	have, err2 := parseLSN(*replayLSN)
	if err1 != nil || err2 != nil {
		return s
	}
	rp.samples = append(rp.samples, walSample{at: primaryNow, lsn: want})
	if len(rp.samples) > maxSamples {
		rp.samples = rp.samples[len(rp.samples)-maxSamples:]
	}
	if have >= want {
		return s
	}
	var asOf time.Time
	for i := len(rp.samples) - 1; i >= 0; i-- {
		if rp.samples[i].lsn <= have {
			asOf = rp.samples[i].at
			break
		}
	}
	if asOf.IsZero() && replayAt != nil {
		asOf = *replayAt
	}
	if asOf.IsZero() {
		return s
	}
	if lag := now.Sub(asOf); lag > rp.maxLag {
		s.AsOf, s.Lag = asOf, lag
	}
	return s
}

// parseLSN reads a pg_lsn's text form, "16/B374D848".
func parseLSN(s string) (uint64, error) {
	var hi, lo uint32
	if _, err := fmt.Sscanf(s, "%X/%X", &hi, &lo); err != nil {
		return 0, fmt.Errorf("pg_lsn %q: %w", s, err)
	}
	return uint64(hi)<<32 | uint64(lo), nil
}
