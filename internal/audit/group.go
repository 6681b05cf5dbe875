package audit

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// groupAppender shares one transaction (one chain-lock hold, one commit)
// among the appends that arrive while another is being written: under
// concurrent writers the chain lock, not the database, is the bottleneck,
// and a commit per event keeps it held for a WAL flush each (issue 14).
// A lone append is written as before, in its own statement. Every caller
// returns only once its own event is committed, so an intent is durable
// before its action, exactly as with one transaction per event.
//
// A group of page views only (Writer.View) commits without waiting for its
// WAL flush; a group with anything else in it waits, so an intent or an
// outcome is always durable before its caller goes on.
type groupAppender struct {
	pool *pgxpool.Pool
	// probe, in tests, sees each write's rows and its synchronous_commit.
	probe func(rows []*kp.AuditEvent, setting string)
	// changed, when set, hears the tenant of every committed event that is
	// not a page view, before its caller returns (the notes cache).
	changed func(region kp.Region, tenantID string)
	mu      sync.Mutex
	busy    bool       // a leader is writing
	queue   []*pending // waiting for the next write
}

type pending struct {
	row  *kp.AuditEvent
	lazy bool       // a page view: may commit without its flush
	done chan error // buffered: the writer never blocks on a caller
}

// errLead hands the writing to a waiting caller.
var errLead = errors.New("audit: lead the next group")

// maxGroup bounds a group: a long batch holds the chain lock longer.
const maxGroup = 64

// append writes row and returns once it is committed (or failed).
func (g *groupAppender) append(ctx context.Context, row *kp.AuditEvent, lazy bool) error {
	p := &pending{row: row, lazy: lazy, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		if err := <-p.done; !errors.Is(err, errLead) {
			return err
		}
	}
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	group := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	g.write(ctx, group)
	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		g.mu.Unlock()
		next.done <- errLead
	} else {
		g.busy = false
		g.mu.Unlock()
	}
	return <-p.done
}

// write appends the group in one transaction; if that fails, each event
// is tried alone, so one bad event fails only its own caller.
func (g *groupAppender) write(ctx context.Context, group []*pending) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if len(group) > 1 {
		rows := make([]*kp.AuditEvent, len(group))
		lazy := true
		for i, p := range group {
			rows[i] = p.row
			lazy = lazy && p.lazy
		}
		if err := g.appendRows(wctx, rows, lazy); err == nil {
			for _, p := range group {
				g.committed(p)
				p.done <- nil
			}
			return
		}
	}
	for _, p := range group {
		err := g.appendRows(wctx, []*kp.AuditEvent{p.row}, p.lazy)
		if err == nil {
			g.committed(p)
		}
		p.done <- err
	}
}

func (g *groupAppender) committed(p *pending) {
	if g.changed != nil && !p.lazy && p.row.TenantID != "" {
		g.changed(p.row.Region, p.row.TenantID)
	}
}

func (g *groupAppender) appendRows(ctx context.Context, rows []*kp.AuditEvent, lazy bool) error {
	if g.probe == nil {
		if len(rows) == 1 && !lazy {
			return db.New(g.pool).AppendAuditEvent(ctx, rows[0])
		}
		return db.AppendAuditEvents(ctx, g.pool, rows, db.AppendOptions{Lazy: lazy})
	}
	var setting string
	err := db.AppendAuditEvents(ctx, g.pool, rows, db.AppendOptions{Lazy: lazy, Probe: &setting})
	if err == nil {
		g.probe(rows, setting)
	}
	return err
}
