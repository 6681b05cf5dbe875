package audit_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/pgtest"
)

// seedMonths seeds a trail reaching back about five months (Seed spreads
// each batch over the 30 days before its end) and appends a few live events.
func seedMonths(t *testing.T, pool *pgxpool.Pool, w *audit.Writer) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for i, back := range []int{150, 120, 90, 60, 30} {
		if _, err := audit.Seed(ctx, pool, 200, uint64(i+1), now.AddDate(0, 0, -back)); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, w, 3)
}

func archiveMonths(t *testing.T) (*pgxpool.Pool, audit.Keys, *audit.Writer, string, []audit.Manifest) {
	t.Helper()
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	seedMonths(t, pool, w)
	before := partitionNames(t, pool)
	dir := t.TempDir()
	ms, err := audit.Archive(context.Background(), pool, w, dir, 62*24*time.Hour, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 {
		t.Fatalf("archived %d months of %v", len(ms), before)
	}
	after := partitionNames(t, pool)
	for _, m := range ms {
		name := "audit_events_" + strings.ReplaceAll(m.Month, "-", "_")
		if slices.Contains(after, name) || !slices.Contains(before, name) {
			t.Fatalf("%s: before %v, after %v", name, before, after)
		}
	}
	return pool, keys, w, dir, ms
}

func TestArchiveThenVerifyArchive(t *testing.T) {
	pool, keys, w, dir, ms := archiveMonths(t)
	ctx := context.Background()
	// Each archived month is an event in the trail.
	var archived int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'audit.archive'`).Scan(&archived); err != nil || archived != len(ms) {
		t.Fatalf("%d audit.archive events for %d months, %v", archived, len(ms), err)
	}
	if rep := mustVerify(t, pool, keys); !rep.OK() {
		t.Fatalf("live trail after archiving: %v", rep)
	}
	rep, err := audit.VerifyArchive(ctx, dir, pool, keys)
	if err != nil || !rep.OK() || rep.Files != len(ms) || rep.Archived != ms[len(ms)-1].LastID {
		t.Fatalf("verify --archive: %v (%d files, %d events), %v", rep, rep.Files, rep.Archived, err)
	}
	// Years later: the files and the key alone.
	if rep, err := audit.VerifyArchive(ctx, dir, nil, keys); err != nil || !rep.OK() {
		t.Fatalf("files only: %v, %v", rep, err)
	}
	// With another key the checkpoints cannot be checked, and the archive
	// says which key it needs.
	if rep, err := audit.VerifyArchive(ctx, dir, nil, testKeys(t)); err != nil || rep.OK() || !strings.Contains(rep.Problem.Detail, "not in KEYPORT_AUDIT_KEY") {
		t.Fatalf("wrong key: %v, %v", rep, err)
	}
	// Archiving again finds nothing more; the trail grows on and verifies.
	more, err := audit.Archive(ctx, pool, w, dir, 62*24*time.Hour, time.Now(), nil)
	if err != nil || len(more) != 0 {
		t.Fatalf("second archive: %v, %v", more, err)
	}
	appendN(t, w, 2)
	if rep, err := audit.VerifyArchive(ctx, dir, pool, keys); err != nil || !rep.OK() {
		t.Fatalf("after more appends: %v, %v", rep, err)
	}
}

// copyDir copies the archive so each case tampers with its own.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipTo(t *testing.T, path string, b []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyArchiveNamesTheBrokenFile(t *testing.T) {
	pool, keys, _, dir, ms := archiveMonths(t)
	ctx := context.Background()
	mid, last := ms[1], ms[len(ms)-1]
	file := func(m audit.Manifest) string { return "audit-" + m.Month + ".jsonl.gz" }
	manifest := func(m audit.Manifest) string { return "audit-" + m.Month + ".manifest.json" }
	for _, tc := range []struct {
		name     string
		tamper   func(t *testing.T, d string)
		wantFile string
		want     string
	}{
		{"an edited record", func(t *testing.T, d string) {
			p := filepath.Join(d, file(mid))
			gzipTo(t, p, bytes.Replace(gunzip(t, p), []byte(`"actor_name":"Admin`), []byte(`"actor_name":"Mallory`), 1))
		}, file(mid), "edited"},
		{"an edited record with its manifest's SHA-256 updated", func(t *testing.T, d string) {
			p := filepath.Join(d, file(mid))
			gzipTo(t, p, bytes.Replace(gunzip(t, p), []byte(`"actor_name":"Admin`), []byte(`"actor_name":"Mallory`), 1))
			mp := filepath.Join(d, manifest(mid))
			mb, _ := os.ReadFile(mp)
			sum := sha256Hex(t, p)
			mb = []byte(strings.Replace(string(mb), mid.SHA256, sum, 1))
			_ = os.WriteFile(mp, mb, 0o600)
		}, file(mid), "changed"},
		{"a missing month", func(t *testing.T, d string) {
			_ = os.Remove(filepath.Join(d, file(mid)))
			_ = os.Remove(filepath.Join(d, manifest(mid)))
		}, file(mid), "missing"},
		{"a missing data file", func(t *testing.T, d string) {
			_ = os.Remove(filepath.Join(d, file(mid)))
		}, file(mid), "missing"},
		{"the oldest month missing", func(t *testing.T, d string) {
			_ = os.Remove(filepath.Join(d, file(ms[0])))
			_ = os.Remove(filepath.Join(d, manifest(ms[0])))
		}, file(ms[0]), "missing"},
		{"the newest month missing", func(t *testing.T, d string) {
			_ = os.Remove(filepath.Join(d, file(last)))
			_ = os.Remove(filepath.Join(d, manifest(last)))
		}, file(last), "missing"},
		{"two months swapped", func(t *testing.T, d string) {
			a, b := ms[0], ms[1]
			for _, pair := range [][2]string{{file(a), file(b)}, {manifest(a), manifest(b)}} {
				pa, pb := filepath.Join(d, pair[0]), filepath.Join(d, pair[1])
				_ = os.Rename(pa, pa+".x")
				_ = os.Rename(pb, pa)
				_ = os.Rename(pa+".x", pb)
			}
		}, "", "renamed or moved"},
		{"records reordered within a month", func(t *testing.T, d string) {
			p := filepath.Join(d, file(mid))
			lines := bytes.Split(bytes.TrimSuffix(gunzip(t, p), []byte("\n")), []byte("\n"))
			lines[3], lines[4] = lines[4], lines[3]
			gzipTo(t, p, append(bytes.Join(lines, []byte("\n")), '\n'))
			mp := filepath.Join(d, manifest(mid))
			mb, _ := os.ReadFile(mp)
			_ = os.WriteFile(mp, []byte(strings.Replace(string(mb), mid.SHA256, sha256Hex(t, p), 1)), 0o600)
		}, file(mid), "reordered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			tc.tamper(t, d)
			rep, err := audit.VerifyArchive(ctx, d, pool, keys)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.Problem == nil {
				t.Fatalf("verified: %v", rep)
			}
			if !strings.Contains(rep.Problem.File, tc.wantFile) || !strings.Contains(rep.String(), tc.want) {
				t.Fatalf("problem %q, want it to name %q and say %q", rep.String(), tc.wantFile, tc.want)
			}
		})
	}
	t.Run("the live trail's first event does not link", func(t *testing.T) { checkLiveSeam(t, pool, keys, dir, file(last)) })
}

// checkLiveSeam rewrites the first live event's link, hash recomputed as an
// attacker would, so only the seam with the last archive shows it.
func checkLiveSeam(t *testing.T, pool *pgxpool.Pool, keys audit.Keys, dir, lastFile string) {
	ctx := context.Background()
	var first int64
	if err := pool.QueryRow(ctx, `SELECT min(id) FROM audit_events`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	superuserExec(t, pool, `UPDATE audit_events SET prev_hash = sha256('x'::bytea) WHERE id = `+itoa(first),
		`UPDATE audit_events SET hash = sha256(prev_hash || audit_canonical_v1(id, occurred_at, actor_kind, actor_user_id, actor_name, tenant_id, tenant_name, region, session_hash, client_ip, user_agent, action, target_key_id, outcome, upstream_status, error_message, request_id, intent_id, details)) WHERE id = `+itoa(first))
	rep, err := audit.VerifyArchive(ctx, dir, pool, keys)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Problem == nil || rep.Problem.File != lastFile || !strings.Contains(rep.Problem.Detail, "live trail") {
		t.Fatalf("report %v, want it to name %s and the live trail", rep, lastFile)
	}
}

func sha256Hex(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
