package audit_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/pgtest"
)

// A witness that holds months since archived out of the database does not
// call them missing (verify --archive checks those); the boundary event's
// hash, which the database keeps, is still compared.
func TestWitnessSkipsArchivedMonths(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	seedMonths(t, pool, w)
	var wit []audit.WitnessEvent
	rows, err := pool.Query(ctx, `SELECT id, hash FROM audit_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e audit.WitnessEvent
		var h []byte
		if err := rows.Scan(&e.ID, &h); err != nil {
			t.Fatal(err)
		}
		copy(e.Hash[:], h)
		wit = append(wit, e)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	ms, err := audit.Archive(ctx, pool, w, t.TempDir(), 62*24*time.Hour, time.Now(), nil)
	if err != nil || len(ms) == 0 {
		t.Fatalf("archive: %d months, %v", len(ms), err)
	}
	boundary := ms[len(ms)-1].LastID
	rep, err := audit.CompareWitness(ctx, pool, wit)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 0 || len(rep.Differs) != 0 || rep.Archived != boundary {
		t.Fatalf("after archiving to event %d: missing %v, differs %v, archived %d", boundary, rep.Missing, rep.Differs, rep.Archived)
	}
	i := slices.IndexFunc(wit, func(e audit.WitnessEvent) bool { return e.ID == boundary })
	wit[i].Hash[0] ^= 1
	if rep, err := audit.CompareWitness(ctx, pool, wit); err != nil || !slices.Equal(rep.Differs, []int64{boundary}) {
		t.Fatalf("a witness disagreeing at the archive boundary: differs %v, %v", rep.Differs, err)
	}
}
