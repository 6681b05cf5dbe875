package auditor

import (
	"context"
	"strconv"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// Viewer is a signed-in reviewer making a request. Everything a viewer
// reads is recorded first (audit.view or audit.export, with the filters):
// if that record cannot be written, nothing is shown.
type Viewer struct {
	Username string
	Scope    audit.Scope
}

func (v Viewer) actor() audit.Actor {
	return audit.Actor{Kind: kp.ActorAuditor, UserID: v.Username, Name: v.Username}
}

// Events records the view, then returns one page of the filtered list.
// filters is what the reviewer asked for, as recorded.
func (s *Service) Events(ctx context.Context, v Viewer, f kp.AuditFilter, filters map[string]string, before, after int64, limit int) (kp.AuditPage, error) {
	if err := s.w.Viewed(ctx, v.actor(), v.Scope, kp.AuditView, filters, "html"); err != nil {
		return kp.AuditPage{}, err
	}
	return db.New(s.pool).ListAuditEvents(ctx, f, before, after, limit)
}

// EventDetail is one event with its chain link and intent ↔ outcome peers.
type EventDetail struct {
	Event    kp.AuditEvent
	Link     kp.AuditLink
	Intent   *kp.AuditEvent  // for an outcome: its intent
	Outcomes []kp.AuditEvent // for an intent: its outcomes
}

// Event records the view, then returns one event in full.
func (s *Service) Event(ctx context.Context, v Viewer, id int64) (*EventDetail, error) {
	if err := s.w.Viewed(ctx, v.actor(), v.Scope, kp.AuditView, map[string]string{"event": strconv.FormatInt(id, 10)}, "html"); err != nil {
		return nil, err
	}
	q := db.New(s.pool)
	e, err := q.AuditEventByID(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &EventDetail{Event: *e}
	if d.Link, err = q.AuditEventLink(ctx, id); err != nil {
		return nil, err
	}
	if e.IntentID != nil {
		if d.Intent, err = q.AuditEventByID(ctx, *e.IntentID); err != nil && kp.KindOf(err) != kp.NotFound {
			return nil, err
		}
	} else if e.Outcome == kp.OutcomeIntent {
		if d.Outcomes, err = q.AuditOutcomesOf(ctx, id); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// KeyHistoryLimit is the most events the key history page shows.
const KeyHistoryLimit = 1000

// KeyHistory records the view, then returns the events about one access
// key, oldest first, and whether there were more than KeyHistoryLimit.
func (s *Service) KeyHistory(ctx context.Context, v Viewer, keyID string) ([]kp.AuditEvent, bool, error) {
	if err := s.w.Viewed(ctx, v.actor(), v.Scope, kp.AuditView, map[string]string{"key": keyID, "page": "key history"}, "html"); err != nil {
		return nil, false, err
	}
	evs, err := db.New(s.pool).AuditKeyHistory(ctx, keyID, KeyHistoryLimit+1)
	if err != nil {
		return nil, false, err
	}
	if len(evs) > KeyHistoryLimit {
		return evs[:KeyHistoryLimit], true, nil
	}
	return evs, false, nil
}

// ExportBatch is how many rows an export reads per query.
const ExportBatch = 2000

// Export records the export (format csv or jsonl, with the filters), pins
// the chain head, then streams every matching event up to it, newest first,
// to fn. Memory stays constant: fn gets one reused row at a time.
func (s *Service) Export(ctx context.Context, v Viewer, f kp.AuditFilter, filters map[string]string, format string, fn func(*kp.AuditEvent) error) error {
	if err := s.w.Viewed(ctx, v.actor(), v.Scope, kp.AuditExport, filters, format); err != nil {
		return err
	}
	q := db.New(s.pool)
	head, err := q.AuditHeadID(ctx)
	if err != nil {
		return err
	}
	return q.ScanAuditEvents(ctx, f, head, ExportBatch, fn)
}

// Activity records the view, then returns per-day counts from since on.
func (s *Service) Activity(ctx context.Context, v Viewer, since time.Time) ([]kp.AuditDayCount, error) {
	if err := s.w.Viewed(ctx, v.actor(), v.Scope, kp.AuditView, map[string]string{"page": "activity"}, "html"); err != nil {
		return nil, err
	}
	return db.New(s.pool).AuditDailyCounts(ctx, since)
}

// Integrity is what the integrity panel shows.
type Integrity struct {
	Checkpoint *db.AuditCheckpoint
	HeadID     int64
	Run        *kp.VerifyRun
}

// Integrity records the view, then returns the latest checkpoint, the
// chain's length and the last verify run.
func (s *Service) Integrity(ctx context.Context, v Viewer) (Integrity, error) {
	var in Integrity
	if err := s.w.Viewed(ctx, v.actor(), v.Scope, kp.AuditView, map[string]string{"page": "integrity"}, "html"); err != nil {
		return in, err
	}
	q := db.New(s.pool)
	var err error
	if in.Checkpoint, err = q.LatestAuditCheckpoint(ctx); err != nil {
		return in, err
	}
	if in.HeadID, err = q.AuditHeadID(ctx); err != nil {
		return in, err
	}
	in.Run, err = q.LatestVerifyRun(ctx)
	return in, err
}

// Now is the service's clock (pages compute "the last 30 days" with it).
func (s *Service) Now() time.Time { return s.o.Now() }
