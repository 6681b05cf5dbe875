package audit

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/keyport/keyport/internal/kp"
)

// RecordOf is e as the export writes it: every stored column, hashes in hex,
// so a receiver can recompute the chain from the records alone. Audit sinks
// send the same records.
func RecordOf(e *kp.AuditEvent) ExportRecord { return exportRecord(e) }

// CheckRecord recomputes x's hash from its own fields and its prev_hash, as
// a receiver of exports or streamed events would (docs/auditing.md), and
// says whether it matches x.Hash. Chaining is the caller's part: each
// record's prev_hash must be the hash of the record with the id before it.
func CheckRecord(x *ExportRecord) error {
	at, err := time.Parse(time.RFC3339Nano, x.OccurredAt)
	if err != nil {
		return fmt.Errorf("event %d: occurred_at: %w", x.ID, err)
	}
	e := kp.AuditEvent{ID: x.ID, OccurredAt: at, ActorKind: kp.ActorKind(x.ActorKind), ActorUserID: x.ActorUserID,
		ActorName: x.ActorName, TenantID: x.TenantID, TenantName: x.TenantName, Region: kp.Region(x.Region),
		SessionHash: x.SessionHash, ClientIP: x.ClientIP, UserAgent: x.UserAgent, Action: kp.Action(x.Action),
		TargetKeyID: x.TargetKeyID, Outcome: kp.Outcome(x.Outcome), UpstreamStatus: x.UpstreamStatus,
		ErrorMessage: x.ErrorMessage, RequestID: x.RequestID, IntentID: x.IntentID, Details: x.Details,
		HashVersion: x.HashVersion}
	if e.PrevHash, err = hex.DecodeString(x.PrevHash); err != nil || len(e.PrevHash) != 32 {
		return fmt.Errorf("event %d: prev_hash is not 32 bytes of hex", x.ID)
	}
	if x.HashVersion != 1 {
		return fmt.Errorf("event %d: unknown hash version %d", x.ID, x.HashVersion)
	}
	var h hasher
	sum := h.hash(&e, e.ID)
	if got := hex.EncodeToString(sum[:]); got != x.Hash {
		return fmt.Errorf("event %d: hash %s recomputes as %s", x.ID, x.Hash, got)
	}
	return nil
}
