package audit

import (
	"encoding/hex"
	"io"

	"github.com/keyport/keyport/internal/kp"
)

// The export format is a contract with whoever reads the files: every
// stored column, unchanged, so that each event's hash can be recomputed from
// the file with the canonical encoding in chain.go (docs/auditing.md,
// "Exports"). It sits beside that encoding so the two change together.

// exportColumns are the export's fields, in the order of the CSV header and
// with the JSON lines' keys: every column, times in RFC 3339 UTC with
// microseconds, hashes in hex, details as the exact text the hash covers.
var exportColumns = []string{"id", "occurred_at", "actor_kind", "actor_user_id", "actor_name", "tenant_id",
	"tenant_name", "region", "session_hash", "client_ip", "user_agent", "action", "target_key_id", "outcome",
	"upstream_status", "error_message", "request_id", "intent_id", "details", "hash_version", "prev_hash", "hash"}

// ExportRecord is one exported event (JSON lines; the CSV has the same
// fields as strings, "" for null).
type ExportRecord struct {
	ID             int64  `json:"id"`
	OccurredAt     string `json:"occurred_at"`
	ActorKind      string `json:"actor_kind"`
	ActorUserID    string `json:"actor_user_id"`
	ActorName      string `json:"actor_name"`
	TenantID       string `json:"tenant_id"`
	TenantName     string `json:"tenant_name"`
	Region         string `json:"region"`
	SessionHash    string `json:"session_hash"`
	ClientIP       string `json:"client_ip"`
	UserAgent      string `json:"user_agent"`
	Action         string `json:"action"`
	TargetKeyID    string `json:"target_key_id"`
	Outcome        string `json:"outcome"`
	UpstreamStatus *int32 `json:"upstream_status"`
	ErrorMessage   string `json:"error_message"`
	RequestID      string `json:"request_id"`
	IntentID       *int64 `json:"intent_id"`
	Details        string `json:"details"`
	HashVersion    int16  `json:"hash_version"`
	PrevHash       string `json:"prev_hash"`
	Hash           string `json:"hash"`
}

// exportTime is the export's time format: the microseconds the hash covers.
const exportTime = "2006-01-02T15:04:05.000000Z07:00"

func exportRecord(e *kp.AuditEvent) ExportRecord {
	return ExportRecord{ID: e.ID, OccurredAt: e.OccurredAt.UTC().Format(exportTime), ActorKind: string(e.ActorKind),
		ActorUserID: e.ActorUserID, ActorName: e.ActorName, TenantID: e.TenantID, TenantName: e.TenantName,
		Region: string(e.Region), SessionHash: e.SessionHash, ClientIP: e.ClientIP, UserAgent: e.UserAgent, Action: string(e.Action),
		TargetKeyID: e.TargetKeyID, Outcome: string(e.Outcome), UpstreamStatus: e.UpstreamStatus, ErrorMessage: e.ErrorMessage,
		RequestID: e.RequestID, IntentID: e.IntentID, Details: e.Details, HashVersion: e.HashVersion,
		PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash)}
}

// An ExportEncoder writes events to an export file, one row per event, in
// the order it is given them.
type ExportEncoder interface {
	Encode(e *kp.AuditEvent) error
	// Close writes whatever the encoder buffers to its writer (it does not
	// close or flush the writer itself).
	Close() error
}

// NewCSVEncoder returns an encoder writing CSV to w, starting with the
// header row (exportfast.go; exportfast_test.go holds the encoding/csv
// reference it must match).
func NewCSVEncoder(w io.Writer) ExportEncoder { return newFastCSV(w) }

// NewJSONLEncoder returns an encoder writing one JSON object (an
// ExportRecord) per line to w (exportfast.go; exportfast_test.go holds the
// encoding/json reference it must match).
func NewJSONLEncoder(w io.Writer) ExportEncoder { return &fastJSONL{w: w} }

// csvHeader is the CSV export's header line.
func csvHeader() []byte { return newFastCSV(nil).buf }
