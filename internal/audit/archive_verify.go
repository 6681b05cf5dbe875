package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
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
	var as []db.AuditArchive // what the database recorded archiving, to name a missing file
	if pool != nil {
		if as, err = db.New(pool).AuditArchives(ctx); err != nil {
			return rep, err
		}
	}
	ch := archiveChain{lastHash: make([]byte, 32), pending: map[int64]db.AuditCheckpoint{}}
	prevMonth := ""
	for _, m := range ms {
		if m.FirstID != ch.lastID+1 {
			rep.Problem = gapProblem(prevMonth, m, ch.lastID, as)
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

// gapProblem names what is missing before m: the months the database
// recorded archiving for those events, else the months between the last
// one checked and m, else the ids.
func gapProblem(prevMonth string, m Manifest, prevID int64, as []db.AuditArchive) *ArchiveProblem {
	if m.FirstID <= prevID {
		return &ArchiveProblem{File: m.File, Detail: fmt.Sprintf("out of order: starts at event %d, but the archive before it ends at %d", m.FirstID, prevID)}
	}
	var missing []string
	for _, a := range as {
		if a.FirstID > prevID && a.LastID < m.FirstID {
			missing = append(missing, archiveFile(strings.ReplaceAll(strings.TrimPrefix(a.Partition, "audit_events_"), "_", "-")))
		}
	}
	if len(missing) > 0 {
		return &ArchiveProblem{File: strings.Join(missing, ", "), Detail: fmt.Sprintf("missing: events %d to %d were archived there", prevID+1, m.FirstID-1)}
	}
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
// file's SHA-256, its checkpoint's signature, then every record's hash, id
// and link in order and the month's bounds (checkMonthRecords). Checkpoints
// falling later are added to pending; pending ones falling in this month
// are checked here. It returns the month's last hash.
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
	if _, unchecked, problem := keys.checkCheckpoint(&cp); problem != nil {
		return nil, fmt.Errorf("%s", problem.Detail)
	} else if unchecked != nil {
		return nil, fmt.Errorf("checkpoint %d cannot be checked: %s (give the ring that held it)", cp.ID, unchecked.Reason)
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
	return checkMonthRecords(zr, m, prevID, prevHash, pending)
}

// checkMonthRecords reads a month's records in order, checking each one's
// hash, id, link and time against the month and the manifest.
func checkMonthRecords(r io.Reader, m Manifest, prevID int64, prevHash []byte, pending map[int64]db.AuditCheckpoint) ([]byte, error) {
	lo, err := time.Parse("2006-01", m.Month)
	if err != nil {
		return nil, fmt.Errorf("month %q: %w", m.Month, err)
	}
	hi := lo.AddDate(0, 1, 0)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	last := slices.Clone(prevHash)
	var n int64
	for sc.Scan() {
		var x ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			return nil, fmt.Errorf("line %d: not an event record", n+1)
		}
		if x.ID != prevID+1 {
			return nil, jumpProblem(sc, prevID, x.ID)
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

// jumpProblem names a jump in ids: the event left out is later in the file
// (reordered) or nowhere (missing).
func jumpProblem(sc *bufio.Scanner, prevID, jumped int64) error {
	if jumped <= prevID {
		return fmt.Errorf("reordered: event %d follows event %d", jumped, prevID)
	}
	want := prevID + 1
	for sc.Scan() {
		var y ExportRecord
		if json.Unmarshal(sc.Bytes(), &y) == nil && y.ID == want {
			return fmt.Errorf("reordered: event %d comes after event %d", want, jumped)
		}
	}
	return fmt.Errorf("missing: the file jumps from event %d to event %d", prevID, jumped)
}
