package audit_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// hostile are cell values with every formula lead-in, alone and behind
// single quotes, and every quoting case of encoding/csv (NUL and invalid
// UTF-8 cannot be stored, so they are not here).
var hostile = []string{"", "plain", " lead", "\u00a0nbsp first", "\u3000ideographic", "\u2028line sep",
	"tab\there", "quote \" and , comma", "line\nbreak\r\n", `\.`, "=1+1", "+1", "-1", "@A1", "\tlead tab",
	"\rlead cr", "'=quoted", "''@two", "'''-three", "'plain", "'", "=\"a,b\"", " =space first", "'\ttab",
	"'\rcr, comma", "émoji 🔑", "'=\"q\"\n", "\\", "a'b", "$1", "%_\\", "a,b", "x,=y", "{}"}

// TestCopyCSVExportIsTheEncodersBytes: the COPY export writes exactly the
// bytes the Go encoder writes for the same events, for every filter the
// export tests use and hostile values in every text column; so do the JSON
// lines appended from raw text values.
func TestCopyCSVExportIsTheEncodersBytes(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := t.Context()
	base := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	seedHostile(t, pool, base)
	head, err := db.New(pool).AuditHeadID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	filters := []kp.AuditFilter{
		{},
		{TenantID: "t-a"},
		{TenantID: "t-b", Outcome: kp.OutcomeFailure},
		{Region: "na1", Action: kp.KeyList},
		{ActorUserID: "'=quoted"},
		{KeyID: "a'b"},
		{Text: "%_\\"},
		{Text: "'"},
		{RequestID: "$1"},
		{From: base.Add(10 * time.Minute), To: base.Add(40 * time.Minute)},
		{From: base.Add(10 * time.Minute), To: base.Add(80 * time.Minute), TenantID: "t-b", Region: "au1", Action: kp.KeyCreate,
			Outcome: kp.OutcomeFailure, Text: "e"},
		{From: base.Add(1000 * time.Hour)},
	}
	for _, f := range filters {
		var want bytes.Buffer
		enc := audit.NewCSVEncoder(&want)
		if err := db.New(pool).ScanAuditEvents(ctx, f, head, 7, func(e *kp.AuditEvent) error { return enc.Encode(e) }); err != nil {
			t.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		opened := 0
		got.Write(want.Bytes()[:strings.IndexByte(want.String(), '\n')+1]) // the header is audit's, not COPY's
		if err := db.CopyAuditCSV(ctx, pool, f, head, func() io.Writer { opened++; return &got }); err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if opened != 1 {
			t.Errorf("%+v: open called %d times", f, opened)
		}
		sameLines(t, fmt.Sprintf("%+v CSV", f), got.String(), want.String())

		var wantJ, gotJ bytes.Buffer
		jenc := audit.NewJSONLEncoder(&wantJ)
		if err := db.New(pool).ScanAuditEvents(ctx, f, head, 7, func(e *kp.AuditEvent) error { return jenc.Encode(e) }); err != nil {
			t.Fatal(err)
		}
		if err := db.New(pool).ScanAuditRaw(ctx, f, head, 7, func(vals [][]byte) error {
			gotJ.Write(audit.AppendJSONLRaw(nil, vals))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sameLines(t, fmt.Sprintf("%+v JSON lines", f), gotJ.String(), wantJ.String())
		if f.TenantID == "t-a" && strings.Count(want.String(), "\n") < len(hostile) {
			t.Fatalf("the t-a filter matched %d lines", strings.Count(want.String(), "\n"))
		}
	}
}

// sameLines fails at the first line where got and want differ.
func sameLines(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Fatalf("%s: line %d\n got %q\nwant %q", what, i, g[i], w[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", what, len(g), len(w))
}

// seedHostile stores three events per hostile value, with the value in every
// text column and in details' label, across two tenants, areas, actions and
// outcomes, some with a status and an intent.
func seedHostile(t *testing.T, pool *pgxpool.Pool, base time.Time) {
	t.Helper()
	err := db.CopyAuditEvents(t.Context(), pool, func(head db.AuditHead) []kp.AuditEvent {
		var rows []kp.AuditEvent
		for i, s := range hostile {
			for j := range 3 {
				n := len(rows)
				e := kp.AuditEvent{ID: head.LastID + int64(n) + 1, OccurredAt: base.Add(time.Duration(n) * time.Minute),
					ActorKind: kp.ActorAdmin, ActorUserID: s, ActorName: s, TenantID: []string{"t-a", "t-b", s}[j],
					TenantName: s, Region: kp.Region([]string{"na1", "au1", s}[j]), SessionHash: s, ClientIP: s, UserAgent: s,
					Action: []kp.Action{kp.KeyList, kp.KeyCreate, kp.AuditView}[j], TargetKeyID: s,
					Outcome: []kp.Outcome{kp.OutcomeSuccess, kp.OutcomeFailure, kp.OutcomeIntent}[j], ErrorMessage: s, RequestID: s,
					Details: `{"label": ` + jsonQuote(s) + `}`, HashVersion: 1, PrevHash: random32(), Hash: random32()}
				if j == 1 {
					st := int32(400 + i)
					e.UpstreamStatus = &st
				}
				if j == 1 && n > 0 {
					id := e.ID - 1
					e.IntentID = &id
				}
				rows = append(rows, e)
			}
		}
		return rows
	})
	if err != nil {
		t.Fatal(err)
	}
}

func random32() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func jsonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			b.WriteString(`\u00` + string("0123456789abcdef"[r>>4]) + string("0123456789abcdef"[r&15]))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
