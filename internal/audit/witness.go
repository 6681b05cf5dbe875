package audit

// Witness comparison: the trail in PostgreSQL against a copy that left the
// database (an audit sink's file, a collector's store). Whoever can delete
// the newest events and the newest checkpoints leaves a shorter chain that
// verifies on its own; a copy they cannot edit still holds what they took.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// WitnessEvent is what a witness says of one event: its id and hash.
type WitnessEvent struct {
	ID   int64
	Hash [32]byte
}

// RecordHash checks that an exported record (a sink's line) hashes to the
// hash it carries (CheckRecord) and returns that hash. A record that does not
// is not evidence of anything: a torn write, or an edit of the copy.
func RecordHash(r *ExportRecord) ([32]byte, error) {
	var sum [32]byte
	if err := CheckRecord(r); err != nil {
		return sum, err
	}
	b, err := hex.DecodeString(r.Hash)
	if err != nil || len(b) != 32 {
		return sum, fmt.Errorf("event %d: hash is not 32 bytes of hex", r.ID)
	}
	copy(sum[:], b)
	return sum, nil
}

// WitnessReport is what CompareWitness found. Id lists are complete; the
// database's head is read once, before the comparison, so events appended
// while it runs are not counted as lag.
type WitnessReport struct {
	WitnessEvents int64 // distinct (id, hash) pairs the witness holds
	WitnessFirst  int64 // lowest and highest id it holds (0 when empty)
	WitnessLast   int64
	DBHead        int64
	Missing       []int64 // ids the witness holds that the database lacks
	Differs       []int64 // ids whose hash in the database differs from the witness's
	Forked        []int64 // ids the witness holds in two or more versions (a rolled-back trail went on)
	Behind        int64   // events after the witness's last id (the witness lags)
	Gaps          int64   // database events between the witness's first and last id that it lacks
	Archived      int64   // witness events in months archived out of the database (verify --archive checks those)
}

// Witness outcomes, in order of precedence (the first that applies).
const (
	WitnessAgrees  = "agrees"
	WitnessMissing = "missing" // the witness holds events the database lacks
	WitnessDiffers = "differs" // events whose hash differs
	WitnessBehind  = "behind"  // the witness lags by more than allowed
	// WitnessBroken is a check whose chain failed the plain verification:
	// it comes before everything the witness says.
	WitnessBroken = "broken"
)

// Status is the report's outcome, given how many events the witness may lag.
func (r *WitnessReport) Status(maxLag int64) string {
	switch {
	case len(r.Missing) > 0:
		return WitnessMissing
	case len(r.Differs) > 0:
		return WitnessDiffers
	case r.Behind > maxLag:
		return WitnessBehind
	}
	return WitnessAgrees
}

// Summary is the report in a few lines for people (the CLI, the Integrity
// page): ids as ranges.
func (r *WitnessReport) Summary() string {
	var b strings.Builder
	if r.WitnessEvents == 0 {
		fmt.Fprintf(&b, "the witness holds no events; the database has %d\n", r.DBHead)
		return b.String()
	}
	fmt.Fprintf(&b, "the witness holds %d events (ids %d–%d); the database has %d\n", r.WitnessEvents, r.WitnessFirst, r.WitnessLast, r.DBHead)
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "MISSING from the database: %d events the witness holds: ids %s\n", len(r.Missing), Ranges(r.Missing))
	}
	if len(r.Differs) > 0 {
		fmt.Fprintf(&b, "DIFFERENT in the database: %d events whose hash differs from the witness's: ids %s\n", len(r.Differs), Ranges(r.Differs))
	}
	if len(r.Forked) > 0 {
		fmt.Fprintf(&b, "the witness holds two or more versions of %d ids (the trail was rolled back and went on): ids %s\n", len(r.Forked), Ranges(r.Forked))
	}
	if r.Behind > 0 {
		fmt.Fprintf(&b, "the witness is behind the database by %d events (ids %d–%d)\n", r.Behind, r.WitnessLast+1, r.DBHead)
	} else {
		b.WriteString("the witness is not behind the database\n")
	}
	if r.Gaps > 0 {
		fmt.Fprintf(&b, "the witness lacks %d database events between its first and last id (a lost or unread file?)\n", r.Gaps)
	}
	if r.WitnessFirst > 1 {
		fmt.Fprintf(&b, "the witness begins at event %d: older events were not checked\n", r.WitnessFirst)
	}
	return b.String()
}

// Ranges writes sorted ids compactly: "3, 7–9, 12".
func Ranges(ids []int64) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(ids[i], 10))
		if j > i {
			b.WriteString("–")
			b.WriteString(strconv.FormatInt(ids[j], 10))
		}
		i = j + 1
	}
	return b.String()
}

// SortWitness sorts events by id and hash and drops exact duplicates (sinks
// deliver at least once, so a witness repeats what was sent again).
func SortWitness(evs []WitnessEvent) []WitnessEvent {
	slices.SortFunc(evs, func(a, b WitnessEvent) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), bytes.Compare(a.Hash[:], b.Hash[:]))
	})
	return slices.Compact(evs)
}

// CompareWitness streams the database's (id, hash) pairs in id order and
// merges them with the witness's, which SortWitness has sorted. Memory is
// the witness's: about 40 bytes an event.
func CompareWitness(ctx context.Context, pool *pgxpool.Pool, wit []WitnessEvent) (WitnessReport, error) {
	q := db.New(pool)
	var rep WitnessReport
	head, err := q.AuditHeadID(ctx)
	if err != nil {
		return rep, err
	}
	rep.DBHead = head
	rep.WitnessEvents = int64(len(wit))
	if len(wit) > 0 {
		rep.WitnessFirst, rep.WitnessLast = wit[0].ID, wit[len(wit)-1].ID
	}
	for i := 1; i < len(wit); i++ {
		if wit[i].ID == wit[i-1].ID {
			rep.Forked = appendOnce(rep.Forked, wit[i].ID)
		}
	}
	// Months archived out of the database (keyport audit archive) are not
	// missing: verify --archive checks them. Only the boundary event, whose
	// hash the database keeps in audit_archives, is compared.
	archived, archivedHash, err := archivedHead(ctx, q)
	if err != nil {
		return rep, err
	}
	i := 0 // next witness event not yet matched
	for ; i < len(wit) && wit[i].ID <= archived; i++ {
		rep.Archived++
		if wit[i].ID == archived && !bytes.Equal(wit[i].Hash[:], archivedHash) {
			rep.Differs = appendOnce(rep.Differs, archived)
		}
	}
	err = q.ScanAuditHashes(ctx, archived, head, VerifyBatch, func(id int64, hash []byte) error {
		for ; i < len(wit) && wit[i].ID < id; i++ {
			rep.Missing = appendOnce(rep.Missing, wit[i].ID)
		}
		if i == len(wit) || wit[i].ID > id {
			switch {
			case id > rep.WitnessLast:
				rep.Behind++
			case id > rep.WitnessFirst:
				rep.Gaps++
			}
			return nil
		}
		for ; i < len(wit) && wit[i].ID == id; i++ {
			if !bytes.Equal(wit[i].Hash[:], hash) {
				rep.Differs = appendOnce(rep.Differs, id)
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for ; i < len(wit); i++ {
		rep.Missing = appendOnce(rep.Missing, wit[i].ID)
	}
	return rep, nil
}

// appendOnce appends id to sorted ids unless it is already the last.
func appendOnce(ids []int64, id int64) []int64 {
	if len(ids) > 0 && ids[len(ids)-1] == id {
		return ids
	}
	return append(ids, id)
}

// RecordWitnessCheck stores a witness check for the Integrity page and
// records it as an audit.verify event with the step "witness": a success
// when the witness agrees, a failure naming what it found otherwise.
func (w *Writer) RecordWitnessCheck(ctx context.Context, actor Actor, c *db.WitnessCheck) error {
	if err := db.New(w.pool).InsertWitnessCheck(ctx, c); err != nil {
		return err
	}
	d := Details{Step: "witness", Label: field(c.Source, 200), Count: c.WitnessEvents, Result: WitnessResult(c)}
	res := Result{Outcome: kp.OutcomeSuccess, Details: &d}
	if c.Status != WitnessAgrees {
		res.Outcome, res.Message = kp.OutcomeFailure, shorten(d.Result)
	}
	return w.Record(ctx, Event{Actor: actor, Action: kp.AuditVerify, Details: d}, res)
}

// WitnessResult is a check's outcome in one line, ids as (capped) ranges.
func WitnessResult(c *db.WitnessCheck) string {
	switch c.Status {
	case WitnessMissing:
		return fmt.Sprintf("missing: the database lacks %d events the witness holds (ids %s)", c.Missing, c.MissingIDs)
	case WitnessDiffers:
		return fmt.Sprintf("differs: %d events' hashes differ from the witness's (ids %s)", c.Differs, c.DiffersIDs)
	case WitnessBehind:
		return fmt.Sprintf("behind: the witness lags the database by %d events", c.Behind)
	case WitnessBroken:
		return "broken: " + c.Chain
	}
	return fmt.Sprintf("agrees: %d events, the witness %d behind", c.WitnessEvents, c.Behind)
}
