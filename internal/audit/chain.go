package audit

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
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

// checkpointMAC signs a checkpoint with one audit key's checkpoint key.
// The key id is not signed: a checkpoint relabelled with another key of
// the ring fails that key's check, and one relabelled with a key outside
// the ring is still compared with the chain (Verify).
func (d derivedKeys) checkpointMAC(c *db.AuditCheckpoint) []byte {
	m := hmac.New(sha256.New, d.checkpoint)
	fmt.Fprintf(m, "keyport-checkpoint-v1|%d|%d|%x|%d", c.CreatedAt.UnixMicro(), c.LastEventID, c.LastHash, c.EventCount)
	return m.Sum(nil)
}

// checkCheckpoint checks c's signature with the key its id names, or, for a
// checkpoint from before key rings (no id), with every key of the ring. It
// returns the id of the key that verified it, or what keeps it unchecked
// (its id names a key not in the ring), or the problem (the signature does
// not verify). A checkpoint without an id that no key verifies is called
// forged, as before key rings: `keyport rekey` records the ids of those
// from before, so retiring their key leaves them named, not forged.
func (k Keys) checkCheckpoint(c *db.AuditCheckpoint) (keyID string, unchecked *Unchecked, problem *Problem) {
	if c.KeyID == "" {
		if d := k.signerOf(c); d != nil {
			return d.id, nil, nil
		}
		return "", nil, &Problem{EventID: c.LastEventID, Kind: "forged-checkpoint",
			Detail: fmt.Sprintf("checkpoint %d (made before key ids) does not verify with any key of KEYPORT_AUDIT_KEY", c.ID)}
	}
	for _, d := range k.ring {
		if d.id != c.KeyID {
			continue
		}
		if !hmac.Equal(c.MAC, d.checkpointMAC(c)) {
			return "", nil, &Problem{EventID: c.LastEventID, Kind: "forged-checkpoint",
				Detail: fmt.Sprintf("checkpoint %d's signature does not verify with audit key %s", c.ID, c.KeyID)}
		}
		return d.id, nil, nil
	}
	return "", &Unchecked{CheckpointID: c.ID, KeyID: c.KeyID, Reason: "signed with audit key " + c.KeyID + ", which is not in KEYPORT_AUDIT_KEY"}, nil
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
		c.MAC, c.KeyID = w.keys.ring[0].checkpointMAC(c), w.keys.ring[0].id
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

// Unchecked is a checkpoint whose signature no key of the ring can check:
// its key left the ring. It is not called forged; it is still compared with
// the chain, so relabelling a checkpoint hides nothing.
type Unchecked struct {
	CheckpointID int64
	KeyID        string // "" for a checkpoint from before key ids
	Reason       string
}

func (u Unchecked) String() string {
	return fmt.Sprintf("checkpoint %d not checked: %s", u.CheckpointID, u.Reason)
}

// Report is the result of a verification.
type Report struct {
	Events      int64
	Head        []byte
	Checkpoints int
	// ByKey counts the checkpoints whose signature verified, per audit key id.
	ByKey map[string]int
	// Unchecked lists the checkpoints no key of the ring could check.
	Unchecked []Unchecked
	Problem   *Problem // nil when the trail verified
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
	rep := Report{Checkpoints: len(cps), ByKey: map[string]int{}}
	for i := range cps {
		id, unchecked, problem := keys.checkCheckpoint(&cps[i])
		if problem != nil {
			rep.Problem = problem
			return rep, nil
		}
		if unchecked != nil {
			rep.Unchecked = append(rep.Unchecked, *unchecked)
			continue
		}
		rep.ByKey[id]++
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
					Detail: fmt.Sprintf("checkpoint %d recorded %d events ending in hash %x here; found %d ending in %x%s", c.ID, c.EventCount, c.LastHash, startID+rep.Events, e.Hash, rep.uncheckedNote(c.ID))}
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
				Detail: fmt.Sprintf("checkpoint %d covers events up to %d, but the chain ends at %d: the tail was removed%s", c.ID, c.LastEventID, prevID, rep.uncheckedNote(c.ID))}
			return rep, nil
		}
	}
	if progress != nil {
		progress(rep.Events)
	}
	return rep, nil
}

// uncheckedNote qualifies a problem found through a checkpoint whose
// signature could not be checked: a forged checkpoint and a changed trail
// then look alike.
func (r *Report) uncheckedNote(checkpointID int64) string {
	for _, u := range r.Unchecked {
		if u.CheckpointID == checkpointID {
			return " (that checkpoint's signature was not checked: " + u.Reason + "; either it or the trail was tampered with)"
		}
	}
	return ""
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

// signerOf is the ring key whose signature c carries, or nil.
func (k Keys) signerOf(c *db.AuditCheckpoint) *derivedKeys {
	for i := range k.ring {
		if hmac.Equal(c.MAC, k.ring[i].checkpointMAC(c)) {
			return &k.ring[i]
		}
	}
	return nil
}

// StampCheckpointKeys records, on each checkpoint made before key ids, the
// id of the ring key whose signature it carries (the one update the table
// accepts, migration 014), and returns how many it stamped. Those no key of
// the ring verifies are left for Verify to report.
func StampCheckpointKeys(ctx context.Context, pool *pgxpool.Pool, keys Keys) (int64, error) {
	q := db.New(pool)
	cps, err := q.AuditCheckpoints(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for i := range cps {
		c := &cps[i]
		if c.KeyID != "" {
			continue
		}
		if d := keys.signerOf(c); d != nil {
			if err := q.StampAuditCheckpointKey(ctx, c.ID, d.id); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// CheckpointKeyUse is what one audit key signed: how many checkpoints, and
// the newest of them.
type CheckpointKeyUse struct {
	KeyID  string // "" for checkpoints no key of the ring verifies (made before key ids)
	Count  int64
	Newest int64 // checkpoint id
}

// CheckpointKeys attributes every checkpoint to the audit key that signed
// it (its recorded id; for one made before key ids, the ring key whose
// signature matches) and returns the uses per key, with the newest
// checkpoint's key id: the key that must stay until a newer key signs a
// checkpoint, since the newest checkpoint is the one that covers the chain.
func CheckpointKeys(ctx context.Context, pool *pgxpool.Pool, keys Keys) (uses []CheckpointKeyUse, newestKeyID string, err error) {
	cps, err := db.New(pool).AuditCheckpoints(ctx)
	if err != nil {
		return nil, "", err
	}
	byKey := map[string]*CheckpointKeyUse{}
	for i := range cps {
		c := &cps[i]
		id := c.KeyID
		if id == "" {
			if d := keys.signerOf(c); d != nil {
				id = d.id
			}
		}
		u := byKey[id]
		if u == nil {
			u = &CheckpointKeyUse{KeyID: id}
			byKey[id] = u
		}
		u.Count++
		u.Newest = c.ID
		newestKeyID = id
	}
	for _, u := range byKey {
		uses = append(uses, *u)
	}
	slices.SortFunc(uses, func(a, b CheckpointKeyUse) int { return cmp.Compare(b.Newest, a.Newest) })
	return uses, newestKeyID, nil
}
