package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
)

// canonicalV1 appends the version-1 canonical encoding of e to buf. It must
// match audit_canonical_v1 in migrations/002_audit.sql byte for byte: a
// prefix, then every column as <byte length>:<text>, NULL as "~".
func canonicalV1(buf []byte, e *kp.AuditEvent, id int64) []byte {
	str := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
	}
	num := func(n int64) {
		var tmp [24]byte
		str(string(strconv.AppendInt(tmp[:0], n, 10)))
	}
	buf = append(buf, "keyport-audit-v1"...)
	num(id)
	num(e.OccurredAt.UnixMicro())
	str(string(e.ActorKind))
	str(e.ActorUserID)
	str(e.ActorName)
	str(e.TenantID)
	str(e.TenantName)
	str(string(e.Region))
	str(e.SessionHash)
	str(e.ClientIP)
	str(e.UserAgent)
	str(string(e.Action))
	str(e.TargetKeyID)
	str(string(e.Outcome))
	if e.UpstreamStatus == nil {
		buf = append(buf, '~')
	} else {
		num(int64(*e.UpstreamStatus))
	}
	str(e.ErrorMessage)
	str(e.RequestID)
	if e.IntentID == nil {
		buf = append(buf, '~')
	} else {
		num(*e.IntentID)
	}
	str(e.Details)
	return buf
}

// hasher recomputes event hashes reusing one buffer.
type hasher struct{ buf []byte }

func (h *hasher) hash(e *kp.AuditEvent, id int64) [32]byte {
	h.buf = append(h.buf[:0], e.PrevHash...)
	h.buf = canonicalV1(h.buf, e, id)
	return sha256.Sum256(h.buf)
}

// checkpointMAC signs a checkpoint with the checkpoint key.
func (k Keys) checkpointMAC(c *db.AuditCheckpoint) []byte {
	m := hmac.New(sha256.New, k.checkpoint)
	fmt.Fprintf(m, "keyport-checkpoint-v1|%d|%d|%x|%d", c.CreatedAt.UnixMicro(), c.LastEventID, c.LastHash, c.EventCount)
	return m.Sum(nil)
}

// Checkpoint signs the current chain head and stores it. It returns nil
// when the chain is empty or nothing was appended since the last checkpoint.
func (w *Writer) Checkpoint(ctx context.Context) (*db.AuditCheckpoint, error) {
	var out *db.AuditCheckpoint
	err := db.WithTx(ctx, w.pool, func(q *db.Queries) error {
		head, err := q.AuditChainHead(ctx)
		if err != nil || head.LastID == 0 {
			return err
		}
		last, err := q.LatestAuditCheckpoint(ctx)
		if err != nil {
			return err
		}
		if last != nil && last.LastEventID == head.LastID {
			return nil
		}
		c := &db.AuditCheckpoint{
			CreatedAt:   time.Now().UTC().Truncate(time.Microsecond),
			LastEventID: head.LastID, LastHash: head.LastHash, EventCount: head.Count,
		}
		c.MAC = w.keys.checkpointMAC(c)
		if err := q.InsertAuditCheckpoint(ctx, c); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: %w", err)
	}
	if out != nil {
		// Logged so a copy lives outside the database too: deleting the
		// newest checkpoints along with the tail then still shows.
		w.log.InfoContext(ctx, "audit checkpoint", "checkpoint_id", out.ID, "last_event_id", out.LastEventID,
			"last_hash", hex.EncodeToString(out.LastHash), "event_count", out.EventCount, "mac", hex.EncodeToString(out.MAC))
	}
	return out, nil
}

// Problem is the first thing found wrong with the trail.
type Problem struct {
	EventID int64  // the first broken event (or the checkpoint's last event)
	Kind    string // changed, missing, reordered, truncated, forged-checkpoint
	Detail  string
}

func (p *Problem) String() string {
	return fmt.Sprintf("event %d: %s: %s", p.EventID, p.Kind, p.Detail)
}

// Report is the result of a verification.
type Report struct {
	Events      int64
	Head        []byte
	Checkpoints int
	Problem     *Problem // nil when the trail verified
	// SinceCheckpoint and SinceEvent say where an incremental run started
	// (VerifyLatest); zero for a full one.
	SinceCheckpoint, SinceEvent int64
}

// OK reports whether the trail verified.
func (r Report) OK() bool { return r.Problem == nil }

func (r Report) String() string {
	if r.Problem != nil {
		return "audit trail BROKEN at " + r.Problem.String()
	}
	if r.SinceCheckpoint != 0 {
		return fmt.Sprintf("verified %d events after checkpoint %d (event %d, verified by an earlier run; --full rereads all), head %x",
			r.Events, r.SinceCheckpoint, r.SinceEvent, r.Head)
	}
	return fmt.Sprintf("verified %d events, head %x", r.Events, r.Head)
}

// VerifyBatch is how many events Verify reads per query.
const VerifyBatch = 10000

// Verify streams the whole live chain in id order (constant memory),
// checking every event's hash and link, then every checkpoint's signature
// and that the chain still reaches it. The live chain starts after the last
// archived month (audit_archives), linking to its last hash; VerifyArchive
// checks the archived months themselves. progress, if set, is called after
// each batch.
func Verify(ctx context.Context, pool *pgxpool.Pool, keys Keys, progress func(events int64)) (Report, error) {
	startID, startHash, err := archivedHead(ctx, db.New(pool))
	if err != nil {
		return Report{}, err
	}
	return verifyFrom(ctx, pool, keys, startID, startHash, nil, progress)
}

// verifyFrom verifies the live chain from the event after startID, which
// must link to startHash. Checkpoints ending at or before startID are
// checked for their signature only (the archive holds their events);
// extra are checkpoints from archive manifests, checked like the stored ones.
func verifyFrom(ctx context.Context, pool *pgxpool.Pool, keys Keys, startID int64, startHash []byte,
	extra map[int64]db.AuditCheckpoint, progress func(events int64)) (Report, error) {
	q := db.New(pool)
	cps, err := q.AuditCheckpoints(ctx)
	if err != nil {
		return Report{}, err
	}
	for _, c := range extra {
		cps = append(cps, c)
	}
	var rep Report
	rep.Checkpoints = len(cps)
	for i := range cps {
		c := &cps[i]
		if !hmac.Equal(c.MAC, keys.checkpointMAC(c)) {
			rep.Problem = &Problem{EventID: c.LastEventID, Kind: "forged-checkpoint",
				Detail: fmt.Sprintf("checkpoint %d's signature does not verify with this audit key", c.ID)}
			return rep, nil
		}
	}
	byLast := map[int64][]*db.AuditCheckpoint{}
	for i := range cps {
		if cps[i].LastEventID > startID {
			byLast[cps[i].LastEventID] = append(byLast[cps[i].LastEventID], &cps[i])
		}
	}
	var (
		h        hasher
		prevID   = startID
		prevHash = append(make([]byte, 0, 32), startHash...)
		prevTime time.Time
	)
	errStop := fmt.Errorf("stop")
	err = q.ScanAuditChain(ctx, startID, VerifyBatch, func(e *kp.AuditEvent) error {
		if p := checkEvent(&h, e, prevID, prevHash, prevTime); p != nil {
			rep.Problem = p
			return errStop
		}
		rep.Events++
		for _, c := range byLast[e.ID] {
			if !bytes.Equal(c.LastHash, e.Hash) || c.EventCount != startID+rep.Events {
				rep.Problem = &Problem{EventID: e.ID, Kind: "changed",
					Detail: fmt.Sprintf("checkpoint %d recorded %d events ending in hash %x here; found %d ending in %x", c.ID, c.EventCount, c.LastHash, startID+rep.Events, e.Hash)}
				return errStop
			}
		}
		prevID, prevTime = e.ID, e.OccurredAt
		prevHash = append(prevHash[:0], e.Hash...)
		if progress != nil && rep.Events%VerifyBatch == 0 {
			progress(rep.Events)
		}
		return nil
	})
	if err != nil && err != errStop {
		return rep, err
	}
	if rep.Problem != nil {
		return rep, nil
	}
	rep.Head = prevHash
	for i := range cps {
		if c := &cps[i]; c.LastEventID > prevID {
			rep.Problem = &Problem{EventID: c.LastEventID, Kind: "truncated",
				Detail: fmt.Sprintf("checkpoint %d covers events up to %d, but the chain ends at %d: the tail was removed", c.ID, c.LastEventID, prevID)}
			return rep, nil
		}
	}
	if progress != nil {
		progress(rep.Events)
	}
	return rep, nil
}

// checkEvent checks one event against its predecessor.
func checkEvent(h *hasher, e *kp.AuditEvent, prevID int64, prevHash []byte, prevTime time.Time) *Problem {
	if e.HashVersion != 1 {
		return &Problem{EventID: e.ID, Kind: "changed", Detail: fmt.Sprintf("unknown hash version %d", e.HashVersion)}
	}
	if e.ID != prevID+1 {
		return &Problem{EventID: prevID + 1, Kind: "missing",
			Detail: fmt.Sprintf("the chain jumps from event %d to event %d: %d event(s) deleted", prevID, e.ID, e.ID-prevID-1)}
	}
	if sum := h.hash(e, e.ID); !bytes.Equal(sum[:], e.Hash) {
		// Content that hashes correctly under a neighbour's id was moved.
		for _, other := range []int64{e.ID + 1, e.ID - 1, e.ID + 2, e.ID - 2} {
			if sum := h.hash(e, other); other > 0 && bytes.Equal(sum[:], e.Hash) {
				return &Problem{EventID: e.ID, Kind: "reordered",
					Detail: fmt.Sprintf("this position holds event %d's record", other)}
			}
		}
		return &Problem{EventID: e.ID, Kind: "changed", Detail: "the stored record does not match its hash"}
	}
	if !bytes.Equal(e.PrevHash, prevHash) {
		if e.OccurredAt.Before(prevTime) {
			return &Problem{EventID: e.ID, Kind: "reordered", Detail: "the event does not follow its predecessor in time or hash"}
		}
		return &Problem{EventID: prevID, Kind: "changed",
			Detail: fmt.Sprintf("event %d's hash was rewritten: event %d no longer links to it", prevID, e.ID)}
	}
	return nil
}

// LogValue keeps reports compact in logs.
func (r Report) LogValue() slog.Value {
	if r.Problem != nil {
		return slog.GroupValue(slog.Int64("events", r.Events), slog.String("problem", r.Problem.String()))
	}
	return slog.GroupValue(slog.Int64("events", r.Events), slog.String("head", hex.EncodeToString(r.Head)))
}
