package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// verificationMAC signs "the chain verified up to this checkpoint" with the
// checkpoint key; the prefix keeps it from ever reading as a checkpoint's.
func (d derivedKeys) verificationMAC(v *db.AuditVerification) []byte {
	m := hmac.New(sha256.New, d.checkpoint)
	fmt.Fprintf(m, "keyport-verified-v1|%d|%d|%d|%x|%t", v.VerifiedAt.UnixMicro(), v.CheckpointID, v.LastEventID, v.LastHash, v.FullRun)
	return m.Sum(nil)
}

// verifiedByRing reports whether v's MAC verifies under any key of the
// ring: a run recorded before a rotation is still trusted until its key is
// retired.
func (k Keys) verifiedByRing(v *db.AuditVerification) bool {
	for _, d := range k.ring {
		if hmac.Equal(v.MAC, d.verificationMAC(v)) {
			return true
		}
	}
	return false
}

// VerifyLatest verifies the live chain, starting from the newest point it
// can trust unless full is set, and records where it got to for the next
// run. A point is trusted when an earlier run recorded it (with a MAC under
// the audit key), its checkpoint is stored with a valid signature and the
// same event and hash, and that event still hashes to it. Events before
// it are not reread: a change to them after that run is found by a --full
// run (docs/auditing.md). Every checkpoint's signature is still checked,
// and every event after the point. keyport audit verify and the
// background verify use it; Verify is the full check alone.
func VerifyLatest(ctx context.Context, pool *pgxpool.Pool, keys Keys, full bool, progress func(events int64)) (Report, error) {
	q := db.New(pool)
	startID, startHash, err := archivedHead(ctx, q)
	if err != nil {
		return Report{}, err
	}
	cps, err := q.AuditCheckpoints(ctx)
	if err != nil {
		return Report{}, err
	}
	var since *db.AuditCheckpoint
	if !full {
		if since, err = trustedPoint(ctx, q, keys, cps); err != nil {
			return Report{}, err
		}
		if since != nil && since.LastEventID > startID {
			startID, startHash = since.LastEventID, since.LastHash
		} else {
			since = nil
		}
	}
	rep, err := verifyFrom(ctx, pool, keys, startID, startHash, nil, progress)
	if err != nil || !rep.OK() {
		return rep, err
	}
	if since != nil {
		rep.SinceCheckpoint, rep.SinceEvent = since.ID, since.LastEventID
	}
	// Record the newest checkpoint this run reached, if it is new.
	last := startID + rep.Events
	var reached *db.AuditCheckpoint
	for i := range cps {
		if c := &cps[i]; c.LastEventID <= last && (reached == nil || c.LastEventID > reached.LastEventID) {
			reached = c
		}
	}
	if reached == nil || (since != nil && reached.LastEventID <= since.LastEventID) {
		return rep, nil
	}
	v := &db.AuditVerification{VerifiedAt: time.Now().UTC().Truncate(time.Microsecond), CheckpointID: reached.ID,
		LastEventID: reached.LastEventID, LastHash: reached.LastHash, FullRun: since == nil}
	v.MAC = keys.ring[0].verificationMAC(v)
	if err := q.InsertAuditVerification(ctx, v); err != nil {
		return rep, err
	}
	return rep, nil
}

// trustedPoint is the newest checkpoint an earlier verification reached
// that can still be trusted, or nil.
func trustedPoint(ctx context.Context, q *db.Queries, keys Keys, cps []db.AuditCheckpoint) (*db.AuditCheckpoint, error) {
	vs, err := q.RecentAuditVerifications(ctx, 20)
	if err != nil {
		return nil, err
	}
	byID := map[int64]*db.AuditCheckpoint{}
	for i := range cps {
		byID[cps[i].ID] = &cps[i]
	}
	for i := range vs {
		v := &vs[i]
		c := byID[v.CheckpointID]
		if c == nil || !keys.verifiedByRing(v) || c.LastEventID != v.LastEventID || !bytes.Equal(c.LastHash, v.LastHash) {
			continue
		}
		if _, unchecked, problem := keys.checkCheckpoint(c); unchecked != nil || problem != nil {
			continue
		}
		e, err := q.AuditEventByID(ctx, c.LastEventID)
		if kp.KindOf(err) == kp.NotFound {
			continue // archived: the archive's end is the start then
		}
		if err != nil {
			return nil, err
		}
		var h hasher
		if sum := h.hash(e, e.ID); !bytes.Equal(sum[:], c.LastHash) || !bytes.Equal(e.Hash, c.LastHash) {
			continue // the event there changed: start further back, where it is reread
		}
		return c, nil
	}
	return nil, nil
}
