package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// ArchiveFormat names the manifest format; a later format gets a new name.
const ArchiveFormat = "keyport-audit-archive-v1"

// A month's archive is two files in the archive directory:
// audit-YYYY-MM.jsonl.gz, the month's events as the JSON-lines export
// writes them (ExportRecord, one per line, in id order), gzip-compressed;
// and audit-YYYY-MM.manifest.json, a Manifest. Together with the audit key
// they are enough to check the month years later (docs/auditing.md).
func archiveFile(month string) string  { return "audit-" + month + ".jsonl.gz" }
func manifestFile(month string) string { return "audit-" + month + ".manifest.json" }

// Manifest describes one archived month.
type Manifest struct {
	Format        string             `json:"format"`
	Month         string             `json:"month"` // YYYY-MM, UTC
	File          string             `json:"file"`
	FirstID       int64              `json:"first_id"`
	LastID        int64              `json:"last_id"`
	FirstPrevHash string             `json:"first_prev_hash"` // links to the month before
	FirstHash     string             `json:"first_hash"`
	LastHash      string             `json:"last_hash"`
	Count         int64              `json:"count"`
	SHA256        string             `json:"sha256"` // of the .jsonl.gz file as written
	Checkpoint    ManifestCheckpoint `json:"checkpoint"`
	ArchivedAt    string             `json:"archived_at"`
}

// ManifestCheckpoint is the first signed checkpoint at or after the month's
// last event: its MAC verifies with the audit key, and the chain must reach
// its hash (in this file, a later one, or the live trail).
type ManifestCheckpoint struct {
	ID          int64  `json:"id"`
	CreatedAt   string `json:"created_at"` // RFC 3339, microseconds, UTC
	LastEventID int64  `json:"last_event_id"`
	LastHash    string `json:"last_hash"`
	EventCount  int64  `json:"event_count"`
	MAC         string `json:"mac"`
}

func manifestCheckpoint(c *db.AuditCheckpoint) ManifestCheckpoint {
	return ManifestCheckpoint{ID: c.ID, CreatedAt: c.CreatedAt.UTC().Format(exportTime), LastEventID: c.LastEventID,
		LastHash: hex.EncodeToString(c.LastHash), EventCount: c.EventCount, MAC: hex.EncodeToString(c.MAC)}
}

func (m ManifestCheckpoint) checkpoint() (db.AuditCheckpoint, error) {
	at, err := time.Parse(time.RFC3339Nano, m.CreatedAt)
	if err != nil {
		return db.AuditCheckpoint{}, fmt.Errorf("checkpoint %d: created_at: %w", m.ID, err)
	}
	c := db.AuditCheckpoint{ID: m.ID, CreatedAt: at, LastEventID: m.LastEventID, EventCount: m.EventCount}
	if c.LastHash, err = hex.DecodeString(m.LastHash); err != nil || len(c.LastHash) != 32 {
		return c, fmt.Errorf("checkpoint %d: last_hash is not 32 bytes of hex", m.ID)
	}
	if c.MAC, err = hex.DecodeString(m.MAC); err != nil {
		return c, fmt.Errorf("checkpoint %d: mac is not hex", m.ID)
	}
	return c, nil
}

// Archive writes every month that ended more than retain before now to dir,
// oldest first, and removes it from the database: for each month it checks
// the month's chain while writing the file and manifest, re-reads and
// verifies what it wrote, and only then calls audit_archive_month (which
// records the archive in the trail, then detaches and drops the month).
// It stops at the first month still within retention; empty months are
// left alone. done, if set, is called after each archived month.
func Archive(ctx context.Context, pool *pgxpool.Pool, w *Writer, dir string, retain time.Duration, now time.Time, done func(Manifest)) ([]Manifest, error) {
	if retain <= 0 {
		return nil, errors.New("audit archive: no retention set")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("audit archive: %w", err)
	}
	// A checkpoint now, so every month to archive has one at or after its end.
	if _, err := w.Checkpoint(ctx); err != nil {
		return nil, err
	}
	q := db.New(pool)
	parts, err := q.AuditPartitions(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := q.AuditCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	prevID, prevHash, err := archivedHead(ctx, q)
	if err != nil {
		return nil, err
	}
	cutoff := now.UTC().Add(-retain)
	var out []Manifest
	for _, p := range parts {
		if p.Month.AddDate(0, 1, 0).After(cutoff) {
			break
		}
		m, arch, err := writeMonth(ctx, q, w.keys, dir, p, prevID, prevHash, cps)
		if err != nil {
			return out, err
		}
		if m == nil {
			continue // an empty month
		}
		if _, err := verifyMonthFile(dir, *m, w.keys, prevID, prevHash, nil); err != nil {
			return out, fmt.Errorf("audit archive: re-reading %s: %w", m.File, err)
		}
		arch.EventID, err = q.ArchiveAuditMonth(ctx, arch, map[string]string{"file": m.File, "manifest": manifestFile(m.Month)})
		if err != nil {
			return out, err
		}
		w.log.InfoContext(ctx, "audit month archived", "month", m.Month, "file", m.File, "first_id", m.FirstID,
			"last_id", m.LastID, "last_hash", m.LastHash, "sha256", m.SHA256, "event_id", arch.EventID)
		prevID, prevHash = arch.LastID, arch.LastHash
		out = append(out, *m)
		if done != nil {
			done(*m)
		}
	}
	return out, nil
}

// archivedHead is the last archived event's id and hash (0 and zeros when
// nothing is archived): where the live trail must link.
func archivedHead(ctx context.Context, q *db.Queries) (int64, []byte, error) {
	as, err := q.AuditArchives(ctx)
	if err != nil {
		return 0, nil, err
	}
	if len(as) == 0 {
		return 0, make([]byte, 32), nil
	}
	last := as[len(as)-1]
	return last.LastID, last.LastHash, nil
}

// writeMonth writes p's events and manifest, checking the chain as it goes.
// It returns nil for an empty month.
func writeMonth(ctx context.Context, q *db.Queries, keys Keys, dir string, p db.AuditPartition, prevID int64, prevHash []byte,
	cps []db.AuditCheckpoint) (*Manifest, db.AuditArchive, error) {
	month := p.Month.Format("2006-01")
	m := &Manifest{Format: ArchiveFormat, Month: month, File: archiveFile(month)}
	arch := db.AuditArchive{Partition: p.Name}
	tmp, err := os.CreateTemp(dir, ".audit-"+month+"-*")
	if err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	defer tmp.Close()
	sum := sha256.New()
	buf := bufio.NewWriterSize(io.MultiWriter(tmp, sum), 1<<16)
	zw := gzip.NewWriter(buf)
	enc := NewJSONLEncoder(zw)
	var (
		h        hasher
		prevTime time.Time
		lastHash = slices.Clone(prevHash)
		first    = true
	)
	arch.FirstPrev = slices.Clone(prevHash)
	err = q.ScanAuditMonth(ctx, p, VerifyBatch, func(e *kp.AuditEvent) error {
		if pr := checkEvent(&h, e, prevID, lastHash, prevTime); pr != nil {
			return fmt.Errorf("audit archive: %s is broken: %s", p.Name, pr)
		}
		if first {
			m.FirstID, m.FirstHash, first = e.ID, hex.EncodeToString(e.Hash), false
		}
		prevID, prevTime = e.ID, e.OccurredAt
		lastHash = append(lastHash[:0], e.Hash...)
		m.Count++
		return enc.Encode(e)
	})
	if err != nil {
		return nil, arch, err
	}
	if m.Count == 0 {
		return nil, arch, nil
	}
	if err := enc.Close(); err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	m.LastID, m.LastHash = prevID, hex.EncodeToString(lastHash)
	m.FirstPrevHash = hex.EncodeToString(arch.FirstPrev)
	m.SHA256 = hex.EncodeToString(sum.Sum(nil))
	var cover *db.AuditCheckpoint
	for i := range cps {
		if cps[i].LastEventID >= m.LastID {
			cover = &cps[i]
			break
		}
	}
	if cover == nil {
		return nil, arch, fmt.Errorf("audit archive: no checkpoint covers %s (events up to %d)", p.Name, m.LastID)
	}
	if !hmac.Equal(cover.MAC, keys.checkpointMAC(cover)) {
		return nil, arch, fmt.Errorf("audit archive: checkpoint %d does not verify with this audit key", cover.ID)
	}
	if cover.LastEventID == m.LastID && !bytes.Equal(cover.LastHash, lastHash) {
		return nil, arch, fmt.Errorf("audit archive: checkpoint %d disagrees with event %d's hash", cover.ID, m.LastID)
	}
	m.Checkpoint = manifestCheckpoint(cover)
	m.ArchivedAt = time.Now().UTC().Format(exportTime)
	if err := os.Rename(tmp.Name(), filepath.Join(dir, m.File)); err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	if err := writeFileSync(filepath.Join(dir, manifestFile(month)), append(mj, '\n')); err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	arch.FirstID, arch.LastID, arch.LastHash, arch.Count = m.FirstID, m.LastID, lastHash, m.Count
	arch.FileSHA256, _ = hex.DecodeString(m.SHA256)
	arch.CheckpointID = cover.ID
	return m, arch, nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".manifest-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ArchiveProblem is the first thing found wrong with the archive, named by
// its file.
type ArchiveProblem struct {
	File   string
	Detail string
}

func (p *ArchiveProblem) String() string { return p.File + ": " + p.Detail }

// ArchiveReport is the result of verifying archived months and, with a
// database, the live trail after them as one chain.
type ArchiveReport struct {
	Files    int   // archived months checked
	Archived int64 // events in them
	Live     Report
	Problem  *ArchiveProblem
}

// OK reports whether the archive and the live trail verified.
func (r ArchiveReport) OK() bool { return r.Problem == nil && r.Live.Problem == nil }

func (r ArchiveReport) String() string {
	if r.Problem != nil {
		return "audit archive BROKEN: " + r.Problem.String()
	}
	if r.Live.Problem != nil {
		return fmt.Sprintf("verified %d archived months (%d events); live trail BROKEN at %s", r.Files, r.Archived, r.Live.Problem)
	}
	return fmt.Sprintf("verified %d archived months (%d events) and the live trail: %d events, head %x",
		r.Files, r.Archived, r.Live.Events, r.Live.Head)
}

// archiveChain is what checking the archive files leaves for the live trail.
type archiveChain struct {
	lastID   int64
	lastHash []byte
	lastFile string
	pending  map[int64]db.AuditCheckpoint // checkpoints past the archives, by last event id
}

// VerifyArchive checks the archived months in dir (file SHA-256, every
// record's hash and link, the months as one chain from event 1, each
// manifest's checkpoint signature and hash) and, when pool is not nil, that
// the database's record of archived months matches the files, that the
// live trail's first event links to the last archived one, and the live
// trail itself. It needs only the files and the audit key when pool is nil.
func VerifyArchive(ctx context.Context, dir string, pool *pgxpool.Pool, keys Keys) (ArchiveReport, error) {
	var rep ArchiveReport
	ms, prob, err := readManifests(dir)
	if err != nil {
		return rep, err
	}
	if prob != nil {
		rep.Problem = prob
		return rep, nil
	}
	ch := archiveChain{lastHash: make([]byte, 32), pending: map[int64]db.AuditCheckpoint{}}
	prevMonth := ""
	for _, m := range ms {
		if m.FirstID != ch.lastID+1 {
			rep.Problem = gapProblem(prevMonth, m, ch.lastID)
			return rep, nil
		}
		if m.FirstPrevHash != hex.EncodeToString(ch.lastHash) {
			rep.Problem = &ArchiveProblem{File: m.File, Detail: fmt.Sprintf("its first event %d does not link to the previous month's last event (%s)", m.FirstID, cmpOr(prevMonth, "none"))}
			return rep, nil
		}
		last, err := verifyMonthFile(dir, m, keys, ch.lastID, ch.lastHash, ch.pending)
		if err != nil {
			rep.Problem = &ArchiveProblem{File: m.File, Detail: err.Error()}
			return rep, nil
		}
		ch.lastID, ch.lastHash, ch.lastFile = m.LastID, last, m.File
		rep.Files++
		rep.Archived += m.Count
		prevMonth = m.Month
	}
	if pool == nil {
		return rep, nil
	}
	as, err := db.New(pool).AuditArchives(ctx)
	if err != nil {
		return rep, err
	}
	byMonth := map[string]Manifest{}
	for _, m := range ms {
		byMonth[m.Month] = m
	}
	for _, a := range as {
		month := strings.ReplaceAll(strings.TrimPrefix(a.Partition, "audit_events_"), "_", "-")
		m, ok := byMonth[month]
		if !ok {
			rep.Problem = &ArchiveProblem{File: archiveFile(month), Detail: fmt.Sprintf("missing: the database archived events %d to %d here", a.FirstID, a.LastID)}
			return rep, nil
		}
		if m.SHA256 != hex.EncodeToString(a.FileSHA256) || m.LastHash != hex.EncodeToString(a.LastHash) || m.FirstID != a.FirstID || m.LastID != a.LastID {
			rep.Problem = &ArchiveProblem{File: m.File, Detail: "not the file the database recorded archiving (SHA-256, ids or last hash differ)"}
			return rep, nil
		}
	}
	if ch.lastFile != "" {
		// The seam: the live trail's first event follows the last archived one.
		var first *kp.AuditEvent
		stop := errors.New("stop")
		err := db.New(pool).ScanAuditChain(ctx, 0, 1, func(e *kp.AuditEvent) error { c := *e; first = &c; return stop })
		if err != nil && !errors.Is(err, stop) {
			return rep, err
		}
		if first == nil || first.ID != ch.lastID+1 || !bytes.Equal(first.PrevHash, ch.lastHash) {
			got := "no live event"
			if first != nil {
				got = fmt.Sprintf("event %d with previous hash %x", first.ID, first.PrevHash)
			}
			rep.Problem = &ArchiveProblem{File: ch.lastFile, Detail: fmt.Sprintf("the live trail does not continue this archive: it ends at event %d (%x), the live trail starts with %s", ch.lastID, ch.lastHash, got)}
			return rep, nil
		}
	}
	live, err := verifyFrom(ctx, pool, keys, ch.lastID, ch.lastHash, ch.pending, nil)
	if err != nil {
		return rep, err
	}
	rep.Live = live
	return rep, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// gapProblem names what is missing before m: the months between the last
// one checked and m when there are any, else the ids.
func gapProblem(prevMonth string, m Manifest, prevID int64) *ArchiveProblem {
	if m.FirstID <= prevID {
		return &ArchiveProblem{File: m.File, Detail: fmt.Sprintf("out of order: starts at event %d, but the archive before it ends at %d", m.FirstID, prevID)}
	}
	var missing []string
	if prevMonth != "" {
		t, _ := time.Parse("2006-01", prevMonth)
		end, _ := time.Parse("2006-01", m.Month)
		for t = t.AddDate(0, 1, 0); t.Before(end); t = t.AddDate(0, 1, 0) {
			missing = append(missing, archiveFile(t.Format("2006-01")))
		}
	}
	if len(missing) > 0 {
		return &ArchiveProblem{File: strings.Join(missing, ", "), Detail: fmt.Sprintf("missing: events %d to %d are in no archive file", prevID+1, m.FirstID-1)}
	}
	return &ArchiveProblem{File: m.File, Detail: fmt.Sprintf("events %d to %d, before this file, are in no archive file (a missing month)", prevID+1, m.FirstID-1)}
}

// readManifests reads every manifest in dir, ordered by first id, and
// names a data file without its manifest or a manifest naming another month.
func readManifests(dir string) ([]Manifest, *ArchiveProblem, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("audit archive: %w", err)
	}
	var ms []Manifest
	data := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "audit-") && strings.HasSuffix(name, ".jsonl.gz"):
			data[name] = true
		case strings.HasPrefix(name, "audit-") && strings.HasSuffix(name, ".manifest.json"):
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, nil, fmt.Errorf("audit archive: %w", err)
			}
			var m Manifest
			if err := json.Unmarshal(b, &m); err != nil || m.Format != ArchiveFormat {
				return nil, &ArchiveProblem{File: name, Detail: "not a " + ArchiveFormat + " manifest"}, nil
			}
			if manifestFile(m.Month) != name || m.File != archiveFile(m.Month) {
				return nil, &ArchiveProblem{File: name, Detail: fmt.Sprintf("describes month %s (file %s): renamed or moved", m.Month, m.File)}, nil
			}
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, func(a, b Manifest) int { return strings.Compare(a.Month, b.Month) })
	for i := 1; i < len(ms); i++ {
		if ms[i].FirstID <= ms[i-1].LastID {
			return nil, &ArchiveProblem{File: ms[i].File, Detail: fmt.Sprintf("out of order: month %s starts at event %d, before %s ends (%d)", ms[i].Month, ms[i].FirstID, ms[i-1].Month, ms[i-1].LastID)}, nil
		}
	}
	for _, m := range ms {
		delete(data, m.File)
	}
	for name := range data {
		return nil, &ArchiveProblem{File: name, Detail: "has no manifest"}, nil
	}
	return ms, nil, nil
}

// verifyMonthFile checks one archived month against its manifest: the
// file's SHA-256, then every record's hash, id and link in order, the
// month's bounds, and its checkpoint's signature (and hash, when it falls
// in this month). Checkpoints falling later are added to pending; pending
// ones falling in this month are checked here. It returns the last hash.
func verifyMonthFile(dir string, m Manifest, keys Keys, prevID int64, prevHash []byte, pending map[int64]db.AuditCheckpoint) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, m.File))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("missing (its manifest is there)")
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return nil, err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != m.SHA256 {
		return nil, fmt.Errorf("edited: its SHA-256 is %s, the manifest says %s", got, m.SHA256)
	}
	cp, err := m.Checkpoint.checkpoint()
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(cp.MAC, keys.checkpointMAC(&cp)) {
		return nil, fmt.Errorf("checkpoint %d's signature does not verify with this audit key", cp.ID)
	}
	if cp.LastEventID < m.LastID {
		return nil, fmt.Errorf("checkpoint %d ends at event %d, before the month's last event %d", cp.ID, cp.LastEventID, m.LastID)
	}
	if pending == nil {
		pending = map[int64]db.AuditCheckpoint{}
	}
	pending[cp.LastEventID] = cp
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("not gzip: %w", err)
	}
	lo, err := time.Parse("2006-01", m.Month)
	if err != nil {
		return nil, fmt.Errorf("month %q: %w", m.Month, err)
	}
	hi := lo.AddDate(0, 1, 0)
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	last := slices.Clone(prevHash)
	var n int64
	for sc.Scan() {
		var x ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			return nil, fmt.Errorf("line %d: not an event record", n+1)
		}
		if x.ID != prevID+1 {
			if x.ID <= prevID {
				return nil, fmt.Errorf("reordered: event %d follows event %d", x.ID, prevID)
			}
			// A jump: the event left out is later in the file (reordered) or nowhere (missing).
			want, jumped := prevID+1, x.ID
			for sc.Scan() {
				var y ExportRecord
				if json.Unmarshal(sc.Bytes(), &y) == nil && y.ID == want {
					return nil, fmt.Errorf("reordered: event %d comes after event %d", want, jumped)
				}
			}
			return nil, fmt.Errorf("missing: the file jumps from event %d to event %d", prevID, jumped)
		}
		if err := CheckRecord(&x); err != nil {
			return nil, fmt.Errorf("changed: %w", err)
		}
		if x.PrevHash != hex.EncodeToString(last) {
			return nil, fmt.Errorf("event %d does not link to event %d", x.ID, prevID)
		}
		at, _ := time.Parse(time.RFC3339Nano, x.OccurredAt) // CheckRecord parsed it
		if at.Before(lo) || !at.Before(hi) {
			return nil, fmt.Errorf("event %d (%s) is not in %s", x.ID, x.OccurredAt, m.Month)
		}
		last, _ = hex.DecodeString(x.Hash)
		prevID = x.ID
		n++
		if c, ok := pending[x.ID]; ok {
			if !bytes.Equal(c.LastHash, last) || c.EventCount != x.ID {
				return nil, fmt.Errorf("changed: checkpoint %d recorded hash %x at event %d; the archive has %x", c.ID, c.LastHash, x.ID, last)
			}
			delete(pending, x.ID)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if n != m.Count || prevID != m.LastID || hex.EncodeToString(last) != m.LastHash {
		return nil, fmt.Errorf("holds %d events ending at %d (%x); the manifest says %d ending at %d (%s)", n, prevID, last, m.Count, m.LastID, m.LastHash)
	}
	return last, nil
}
