package auditsink

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// trail seeds n events and returns them as the sinks' records.
func trail(t *testing.T, n int, seed uint64) (*pgxpool.Pool, []audit.ExportRecord) {
	t.Helper()
	pool := pgtest.NewPool(t)
	if _, err := audit.Seed(context.Background(), pool, n, seed, time.Now()); err != nil {
		t.Fatal(err)
	}
	var recs []audit.ExportRecord
	err := db.New(pool).ScanAuditChain(context.Background(), 0, 1000, func(e *kp.AuditEvent) error {
		recs = append(recs, audit.RecordOf(e))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pool, recs
}

func jsonLine(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func ids(evs []audit.WitnessEvent) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

// The file witness is the sink's file and every copy log rotation left
// (renamed, dated, gzipped), in the sink's form and the collectors' (arrays,
// HEC envelopes); torn, foreign and edited lines are named and left out.
func TestReadWitnessReadsEveryRotatedFileAndEveryForm(t *testing.T) {
	pool, recs := trail(t, 30, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for _, r := range recs[0:10] {
		zw.Write(jsonLine(t, r))
	}
	zw.Close()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("audit.jsonl.2.gz", gz.Bytes())
	var dated []byte
	dated = append(dated, jsonLine(t, recs[7:15])...) // the HTTPS sink's batch, overlapping
	for i := 15; i < 18; i++ {
		dated = append(dated, jsonLine(t, map[string]any{"time": 1.5, "source": "keyport", "event": recs[i]})...)
	}
	write("audit.jsonl-20261207", dated)
	var cur []byte
	torn := jsonLine(t, recs[18])
	cur = append(cur, torn[:len(torn)/2]...) // a batch torn by a crash, then sent again
	cur = append(cur, jsonLine(t, recs[18])...)
	cur = append(cur, "not json at all\n"...)
	edited := recs[19]
	edited.ActorName = "someone else"
	cur = append(cur, jsonLine(t, edited)...)
	for _, r := range recs[19:25] {
		cur = append(cur, jsonLine(t, r)...)
	}
	write("audit.jsonl", cur)
	write("other.jsonl", jsonLine(t, recs[29])) // another file in the directory: not read

	w, err := ReadWitness(context.Background(), "file://"+path, WitnessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(w.Files); got != 3 {
		t.Errorf("read %d files (%v), want 3", got, w.Files)
	}
	if got, want := ids(w.Events), span(1, 25); !slices.Equal(got, want) {
		t.Fatalf("witness ids %v, want %v", got, want)
	}
	if w.RejectedN != 3 {
		t.Errorf("%d rejected lines, want 3 (torn, not JSON, edited): %v", w.RejectedN, w.Rejected)
	}
	rep, err := audit.CompareWitness(context.Background(), pool, w.Events)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Status(0); got != audit.WitnessBehind || rep.Behind != 5 || rep.Missing != nil || rep.Differs != nil {
		t.Errorf("status %s, behind %d, missing %v, differs %v; want behind by 5 and nothing else", got, rep.Behind, rep.Missing, rep.Differs)
	}
	if got := rep.Status(5); got != audit.WitnessAgrees {
		t.Errorf("with 5 events of lag allowed: %s, want agrees", got)
	}
}

// Another trail's records under the same ids (a rolled-back trail that went
// on) differ; ids the database never reached are missing.
func TestCompareWitnessNamesDifferingAndMissingIDs(t *testing.T) {
	pool, recs := trail(t, 30, 1)
	_, other := trail(t, 40, 2)
	var evs []audit.WitnessEvent
	add := func(rs ...audit.ExportRecord) {
		for i := range rs {
			sum, err := audit.RecordHash(&rs[i])
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, audit.WitnessEvent{ID: rs[i].ID, Hash: sum})
		}
	}
	add(recs[:30]...)
	add(other[23], other[24])
	add(other[34:]...)
	rep, err := audit.CompareWitness(context.Background(), pool, audit.SortWitness(evs))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Differs, []int64{24, 25}; !slices.Equal(got, want) {
		t.Errorf("differs %v, want %v", got, want)
	}
	if got, want := rep.Forked, []int64{24, 25}; !slices.Equal(got, want) {
		t.Errorf("forked %v, want %v", got, want)
	}
	if got, want := rep.Missing, span(35, 40); !slices.Equal(got, want) {
		t.Errorf("missing %v, want %v", got, want)
	}
	if got := rep.Status(0); got != audit.WitnessMissing {
		t.Errorf("status %s, want missing (it comes first)", got)
	}
	if got, want := audit.Ranges(rep.Missing), "35–40"; got != want {
		t.Errorf("ranges %q, want %q", got, want)
	}
}

// A collector that serves back what it stored is read over HTTPS, with the
// bearer token; a refusal is an error, not an empty witness.
func TestReadWitnessOverHTTPS(t *testing.T) {
	_, recs := trail(t, 5, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		rw.Write(jsonLine(t, recs))
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	w, err := ReadWitness(context.Background(), srv.URL+"/trail?sig=x", WitnessOptions{Token: "tok", Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(w.Events), span(1, 5); !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
	if w.Display != srv.URL+"/trail" {
		t.Errorf("shown as %q: the query must not be", w.Display)
	}
	if _, err := ReadWitness(context.Background(), srv.URL+"/trail", WitnessOptions{Roots: roots}); err == nil {
		t.Error("a 401 read as a witness")
	}
	if _, err := ReadWitness(context.Background(), "http://example.com/trail", WitnessOptions{}); err == nil {
		t.Error("a plain http witness was accepted")
	}
}
