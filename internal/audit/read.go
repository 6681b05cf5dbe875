package audit

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// Reviewer is a signed-in security reviewer making a request. Everything a
// reviewer reads is recorded first (audit.view or audit.export, with the
// filters): if that record cannot be written, nothing is shown.
type Reviewer struct {
	Username string
	Scope    Scope
}

func (r Reviewer) actor() Actor {
	return Actor{Kind: kp.ActorReviewer, UserID: r.Username, Name: r.Username}
}

// Reader is the trail's read side, for reviewers: the event list, one
// event, a key's history, exports, the activity counts and the integrity
// panel with its background verifications. Every read is itself recorded
// through the Writer before anything is returned.
type Reader struct {
	pool    *pgxpool.Pool
	replica *replica // nil: reviewers read the primary (SetReplica)
	w       *Writer
	now     func() time.Time
	log     *slog.Logger
	runs    sync.WaitGroup // background verifications
}

// NewReader returns a Reader recording through w. now is its clock (nil:
// time.Now); log gets background verifications' failures (nil: discarded).
func NewReader(pool *pgxpool.Pool, w *Writer, now func() time.Time, log *slog.Logger) *Reader {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{pool: pool, w: w, now: now, log: log}
}

// Now is the reader's clock (pages compute "the last 30 days" with it).
func (r *Reader) Now() time.Time { return r.now() }

// Events records the view, then returns one page of the filtered list.
// filters is what the reviewer asked for, as recorded.
func (r *Reader) Events(ctx context.Context, who Reviewer, f kp.AuditFilter, filters map[string]string, before, after int64, limit int) (kp.AuditPage, error) {
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, kp.AuditView, filters, "html"); err != nil {
		return kp.AuditPage{}, err
	}
	var page kp.AuditPage
	err := r.onReplica(ctx, func(p *pgxpool.Pool) (err error) {
		page, err = db.New(p).ListAuditEvents(ctx, f, before, after, limit)
		return err
	})
	return page, err
}

// EventDetail is one event with its chain link and intent ↔ outcome peers.
type EventDetail struct {
	Event    kp.AuditEvent
	Link     kp.AuditLink
	Intent   *kp.AuditEvent  // for an outcome: its intent
	Outcomes []kp.AuditEvent // for an intent or an outcome: the intent's outcomes (this one included)
}

// Event records the view, then returns one event in full.
func (r *Reader) Event(ctx context.Context, who Reviewer, id int64) (*EventDetail, error) {
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, kp.AuditView, map[string]string{"event": strconv.FormatInt(id, 10)}, "html"); err != nil {
		return nil, err
	}
	var d *EventDetail
	err := r.onReplica(ctx, func(p *pgxpool.Pool) (err error) {
		d, err = eventDetail(ctx, db.New(p), id)
		return err
	})
	return d, err
}

func eventDetail(ctx context.Context, q *db.Queries, id int64) (*EventDetail, error) {
	e, err := q.AuditEventByID(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &EventDetail{Event: *e}
	if d.Link, err = q.AuditEventLink(ctx, id); err != nil {
		return nil, err
	}
	intent := id // an outcome's page lists its intent's outcomes too: the whole action
	if e.IntentID != nil {
		intent = *e.IntentID
		if d.Intent, err = q.AuditEventByID(ctx, intent); err != nil && kp.KindOf(err) != kp.NotFound {
			return nil, err
		}
	}
	if e.IntentID != nil || e.Outcome == kp.OutcomeIntent {
		if d.Outcomes, err = q.AuditOutcomesOf(ctx, intent); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// KeyHistoryLimit is the most events the key history page shows.
const KeyHistoryLimit = 1000

// KeyHistory is one access key's recorded life.
type KeyHistory struct {
	Events    []kp.AuditEvent // oldest first, at most KeyHistoryLimit
	Truncated bool            // there were more than KeyHistoryLimit
	Facts     KeyFacts
}

// KeyHistory records the view, then returns the events about one access
// key, oldest first, with what they say about it.
func (r *Reader) KeyHistory(ctx context.Context, who Reviewer, keyID string) (KeyHistory, error) {
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, kp.AuditView, map[string]string{"key": keyID, "page": "key history"}, "html"); err != nil {
		return KeyHistory{}, err
	}
	var evs []kp.AuditEvent
	err := r.onReplica(ctx, func(p *pgxpool.Pool) (err error) {
		evs, err = db.New(p).AuditKeyHistory(ctx, keyID, KeyHistoryLimit+1)
		return err
	})
	if err != nil {
		return KeyHistory{}, err
	}
	h := KeyHistory{Events: evs}
	if len(evs) > KeyHistoryLimit {
		h.Events, h.Truncated = evs[:KeyHistoryLimit], true
	}
	h.Facts = keyFacts(h.Events)
	return h, nil
}

// ExportRefused records an export the per-reviewer export limit refused
// (outcome denied, with why), so a reviewer pulling the trail in bulk shows
// in it.
func (r *Reader) ExportRefused(ctx context.Context, who Reviewer, filters map[string]string, format, reason string) error {
	return r.w.Record(ctx, Event{Actor: who.actor(), Scope: who.Scope, Action: kp.AuditExport, Details: Details{Filters: filters, Format: format}},
		Result{Outcome: kp.OutcomeDenied, Message: reason})
}

// ExportBatch is how many rows an export reads per query. Rows stream
// through (memory does not grow with it); fewer, longer queries spend less
// on planning and round trips than 2 000 did.
const ExportBatch = 10000

// ExportCSV records the CSV export with its filters, pins the chain head,
// then streams every matching event up to it, newest first, as the CSV
// export (header first) to the writer open returns, through PostgreSQL's
// COPY (db.CopyAuditCSV): the same bytes NewCSVEncoder writes
// (TestCopyCSVExportIsTheEncodersBytes), at the speed of the database.
// open is called once, when the first byte is ready to go.
func (r *Reader) ExportCSV(ctx context.Context, who Reviewer, f kp.AuditFilter, filters map[string]string, open func() io.Writer) error {
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, kp.AuditExport, filters, "csv"); err != nil {
		return err
	}
	pool := r.readPool(ctx) // the replica when the request reads from it
	head, err := db.New(pool).AuditHeadID(ctx)
	if err != nil {
		return err
	}
	var hw headerWriter
	err = db.CopyAuditCSV(ctx, pool, f, head, func() io.Writer {
		hw.w = open()
		return &hw
	})
	if err == nil && !hw.sent {
		_, err = hw.w.Write(csvHeader())
	}
	return err
}

// ExportJSONL is ExportCSV for JSON lines: the rows are read as raw text
// (db.ScanAuditRaw, times and hashes formatted by SQL) and appended without
// decoding (AppendJSONLRaw), the bytes NewJSONLEncoder writes. open is
// called with the first row, or at the end when none matched.
func (r *Reader) ExportJSONL(ctx context.Context, who Reviewer, f kp.AuditFilter, filters map[string]string, open func() io.Writer) error {
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, kp.AuditExport, filters, "jsonl"); err != nil {
		return err
	}
	q := db.New(r.readPool(ctx))
	head, err := q.AuditHeadID(ctx)
	if err != nil {
		return err
	}
	var w io.Writer
	var buf []byte
	err = q.ScanAuditRaw(ctx, f, head, ExportBatch, func(vals [][]byte) error {
		if w == nil {
			w = open()
		}
		buf = AppendJSONLRaw(buf[:0], vals)
		_, err := w.Write(buf)
		return err
	})
	if err == nil && w == nil {
		open()
	}
	return err
}

// headerWriter writes the CSV header before the first row.
type headerWriter struct {
	w    io.Writer
	sent bool
}

func (h *headerWriter) Write(p []byte) (int, error) {
	if !h.sent {
		h.sent = true
		if _, err := h.w.Write(csvHeader()); err != nil {
			return 0, err
		}
	}
	return h.w.Write(p)
}

// Activity records the view, then returns per-day counts from since on.
func (r *Reader) Activity(ctx context.Context, who Reviewer, since time.Time) ([]kp.AuditDayCount, error) {
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, kp.AuditView, map[string]string{"page": "activity"}, "html"); err != nil {
		return nil, err
	}
	var counts []kp.AuditDayCount
	err := r.onReplica(ctx, func(p *pgxpool.Pool) (err error) {
		counts, err = db.New(p).AuditDailyCounts(ctx, since)
		return err
	})
	return counts, err
}
