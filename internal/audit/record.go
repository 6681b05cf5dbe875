package audit

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/keyport/keyport/internal/csvsafe"
	"github.com/keyport/keyport/internal/kp"
)

// RecordOf is e as the export writes it: every stored column, hashes in hex,
// so a receiver can recompute the chain from the records alone. Audit sinks
// send the same records.
func RecordOf(e *kp.AuditEvent) ExportRecord { return exportRecord(e) }

// CheckRecord recomputes x's hash from its own fields and its prev_hash, as
// a receiver of exports or streamed events would (docs/auditing.md), and
// says whether it matches x.Hash (a CSV row: CheckCSVRecord). Chaining is the caller's part: each
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

// CheckCSVRecord is CheckRecord for one row of the CSV export, as a reader
// of the file has it: header is the file's first row, row one event's
// cells. Each cell is first given back its stored value by the
// spreadsheet rule (csvsafe.Restore: a cell that begins with single quotes
// followed by '=', '+', '-', '@', a tab, a carriage return or NUL loses its
// first single quote); an empty upstream_status or intent_id is null.
func CheckCSVRecord(header, row []string) error { return checkCSVRecord(header, row, csvsafe.Restore) }

// checkCSVRecord reads each cell through restore (tests read them as they
// stand, to see that the rule matters).
func checkCSVRecord(header, row []string, restore func(string) string) error {
	if len(row) != len(header) {
		return fmt.Errorf("a row of %d cells under a header of %d", len(row), len(header))
	}
	cell := make(map[string]string, len(header))
	for i, h := range header {
		cell[h] = restore(row[i])
	}
	for _, c := range exportColumns {
		if _, ok := cell[c]; !ok {
			return fmt.Errorf("the header has no %s column", c)
		}
	}
	x := ExportRecord{OccurredAt: cell["occurred_at"], ActorKind: cell["actor_kind"], ActorUserID: cell["actor_user_id"],
		ActorName: cell["actor_name"], TenantID: cell["tenant_id"], TenantName: cell["tenant_name"], Region: cell["region"],
		SessionHash: cell["session_hash"], ClientIP: cell["client_ip"], UserAgent: cell["user_agent"], Action: cell["action"],
		TargetKeyID: cell["target_key_id"], Outcome: cell["outcome"], ErrorMessage: cell["error_message"],
		RequestID: cell["request_id"], Details: cell["details"], PrevHash: cell["prev_hash"], Hash: cell["hash"]}
	var err error
	if x.ID, err = strconv.ParseInt(cell["id"], 10, 64); err != nil {
		return fmt.Errorf("id %q: %w", cell["id"], err)
	}
	if s := cell["upstream_status"]; s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return fmt.Errorf("event %d: upstream_status: %w", x.ID, err)
		}
		status := int32(n)
		x.UpstreamStatus = &status
	}
	if s := cell["intent_id"]; s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("event %d: intent_id: %w", x.ID, err)
		}
		x.IntentID = &n
	}
	v, err := strconv.ParseInt(cell["hash_version"], 10, 16)
	if err != nil {
		return fmt.Errorf("event %d: hash_version: %w", x.ID, err)
	}
	x.HashVersion = int16(v)
	return CheckRecord(&x)
}
