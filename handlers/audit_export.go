package handlers

import (
	"bufio"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/labstack/echo/v4"
)

// exportColumns are the export's fields, in the order of the CSV header and
// with the JSON lines' keys: every column, times in RFC 3339 UTC with
// microseconds, hashes in hex, details as the exact text the hash covers,
// so anyone can recompute each event's hash and link from the file.
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

func (x *ExportRecord) csvRow(row []string) []string {
	opt32 := func(p *int32) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(int(*p))
	}
	opt64 := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	return append(row[:0], strconv.FormatInt(x.ID, 10), x.OccurredAt, x.ActorKind, x.ActorUserID, x.ActorName,
		x.TenantID, x.TenantName, x.Region, x.SessionHash, x.ClientIP, x.UserAgent, x.Action, x.TargetKeyID,
		x.Outcome, opt32(x.UpstreamStatus), x.ErrorMessage, x.RequestID, opt64(x.IntentID), x.Details,
		strconv.Itoa(int(x.HashVersion)), x.PrevHash, x.Hash)
}

// exportFlushEvery is how many rows are written between flushes to the
// client: the response is never held in memory.
const exportFlushEvery = 500

func (r *auditUI) exportCSV(c echo.Context) error {
	return r.export(c, "csv", "text/csv; charset=utf-8", func(w *bufio.Writer) (func(*kp.AuditEvent) error, func() error) {
		cw := csv.NewWriter(w)
		_ = cw.Write(exportColumns)
		row := make([]string, 0, len(exportColumns))
		return func(e *kp.AuditEvent) error {
				x := exportRecord(e)
				row = x.csvRow(row)
				return cw.Write(row)
			}, func() error {
				cw.Flush()
				return cw.Error()
			}
	})
}

func (r *auditUI) exportJSONL(c echo.Context) error {
	return r.export(c, "jsonl", "application/jsonl; charset=utf-8", func(w *bufio.Writer) (func(*kp.AuditEvent) error, func() error) {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return func(e *kp.AuditEvent) error {
			x := exportRecord(e)
			return enc.Encode(&x)
		}, func() error { return nil }
	})
}

// export records the export with its filters (refusing if it cannot), then
// streams the matching events, newest first, as they come from the
// database. A failure mid-stream aborts the connection, so a client sees
// a broken download rather than a file that merely looks complete.
func (r *auditUI) export(c echo.Context, format, contentType string, start func(*bufio.Writer) (func(*kp.AuditEvent) error, func() error)) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	f, err := parseAuditFilter(c.QueryParams())
	if err != nil {
		return err
	}
	if err := r.h.saveSessions(c); err != nil { // headers go out with the first row
		return err
	}
	res := c.Response()
	started := false
	var w *bufio.Writer
	var write func(*kp.AuditEvent) error
	var finish func() error
	n := 0
	begin := func() {
		started = true
		h := res.Header()
		h.Set("Content-Type", contentType)
		h.Set("Content-Disposition", `attachment; filename="keyport-audit-`+time.Now().UTC().Format("20060102T150405Z")+`.`+format+`"`)
		res.WriteHeader(http.StatusOK)
		w = bufio.NewWriterSize(res, 32<<10)
		write, finish = start(w)
	}
	err = r.svc.Export(c.Request().Context(), rv.viewer, f.AuditFilter, f.record(), format, func(e *kp.AuditEvent) error {
		if !started {
			begin()
		}
		if err := write(e); err != nil {
			return err
		}
		if n++; n%exportFlushEvery == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
			res.Flush()
		}
		return nil
	})
	if err != nil && !started {
		return err // nothing sent yet: the error page can still be shown
	}
	if err != nil {
		r.h.Log.ErrorContext(c.Request().Context(), "audit export failed mid-stream", "format", format, "rows", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		begin()
	}
	if err := finish(); err != nil {
		panic(http.ErrAbortHandler)
	}
	if err := w.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}
