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
	// KeyID names the audit key that signed it (key rings); "" for a
	// checkpoint from before key ids, checked with every key given.
	KeyID string `json:"key_id,omitempty"`
}

func manifestCheckpoint(c *db.AuditCheckpoint) ManifestCheckpoint {
	return ManifestCheckpoint{ID: c.ID, CreatedAt: c.CreatedAt.UTC().Format(exportTime), LastEventID: c.LastEventID,
		LastHash: hex.EncodeToString(c.LastHash), EventCount: c.EventCount, MAC: hex.EncodeToString(c.MAC), KeyID: c.KeyID}
}

func (m ManifestCheckpoint) checkpoint() (db.AuditCheckpoint, error) {
	at, err := time.Parse(time.RFC3339Nano, m.CreatedAt)
	if err != nil {
		return db.AuditCheckpoint{}, fmt.Errorf("checkpoint %d: created_at: %w", m.ID, err)
	}
	c := db.AuditCheckpoint{ID: m.ID, CreatedAt: at, LastEventID: m.LastEventID, EventCount: m.EventCount, KeyID: m.KeyID}
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
	if err := errors.Join(enc.Close(), zw.Close(), buf.Flush(), tmp.Sync(), tmp.Close()); err != nil {
		return nil, arch, fmt.Errorf("audit archive: %w", err)
	}
	m.LastID, m.LastHash = prevID, hex.EncodeToString(lastHash)
	m.FirstPrevHash = hex.EncodeToString(arch.FirstPrev)
	m.SHA256 = hex.EncodeToString(sum.Sum(nil))
	cover, err := coveringCheckpoint(keys, cps, p.Name, m.LastID, lastHash)
	if err != nil {
		return nil, arch, err
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

// coveringCheckpoint is the first checkpoint at or after event lastID,
// checked against the audit key (and lastHash, when it ends there).
func coveringCheckpoint(keys Keys, cps []db.AuditCheckpoint, name string, lastID int64, lastHash []byte) (*db.AuditCheckpoint, error) {
	for i := range cps {
		c := &cps[i]
		if c.LastEventID < lastID {
			continue
		}
		_, unchecked, problem := keys.checkCheckpoint(c)
		if problem != nil {
			return nil, fmt.Errorf("audit archive: %s", problem.Detail)
		}
		if unchecked != nil {
			continue // signed with a retired key: a later checkpoint covers the month too
		}
		if c.LastEventID == lastID && !bytes.Equal(c.LastHash, lastHash) {
			return nil, fmt.Errorf("audit archive: checkpoint %d disagrees with event %d's hash", c.ID, lastID)
		}
		return c, nil
	}
	return nil, fmt.Errorf("audit archive: no checkpoint covers %s (events up to %d)", name, lastID)
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
