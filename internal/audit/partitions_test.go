package audit_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/pgtest"
)

func partitionNames(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	parts, err := db.New(pool).AuditPartitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	return names
}

func monthName(t time.Time) string { return "audit_events_" + t.UTC().Format("2006_01") }

func TestPartitionsAreCreatedAhead(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	now := time.Now().UTC()
	// The migration made the current month and the next.
	names := partitionNames(t, pool)
	for _, m := range []time.Time{now, now.AddDate(0, 1, -now.Day()+1)} {
		if !slices.Contains(names, monthName(m)) {
			t.Fatalf("partitions %v lack %s", names, monthName(m))
		}
	}
	// The portal's daily task, on a clock months ahead, from two instances at once.
	later := time.Date(now.Year(), now.Month(), 15, 12, 0, 0, 0, time.UTC).AddDate(0, 6, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		other, err := pgxpool.New(ctx, pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		wg.Add(1)
		go func() { defer wg.Done(); errs <- audit.EnsurePartitions(ctx, other, later) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	names = partitionNames(t, pool)
	for _, want := range []string{monthName(later), monthName(later.AddDate(0, 1, 0)), monthName(later.AddDate(0, 2, 0))} {
		if !slices.Contains(names, want) {
			t.Fatalf("partitions %v lack %s", names, want)
		}
	}
	// Not years ahead: any role may call it.
	if err := audit.EnsurePartitions(ctx, pool, now.AddDate(3, 0, 0)); err == nil {
		t.Fatal("partitions three years ahead were created")
	}
	// Each new month refuses TRUNCATE like the others.
	if _, err := pool.Exec(ctx, `TRUNCATE `+monthName(later.AddDate(0, 1, 0))); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("TRUNCATE of a new month: %v", err)
	}
}

// The chain runs on from last month's partition into this month's, with
// two portal instances (two pools, two writers) appending at once.
func TestChainIsLinearAcrossAMonthBoundaryWithTwoInstances(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	keys := testKeys(t)
	seedPool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer seedPool.Close()
	now := time.Now().UTC()
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	// 30 days of events ending a minute before this month began.
	const seeded = 300
	if _, err := audit.Seed(ctx, seedPool, seeded, 5, monthStart.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	const perInstance = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		w := audit.NewWriter(pool, keys, quiet())
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for range perInstance {
				inner.Add(1)
				go func() { defer inner.Done(); _, err := w.Intent(ctx, adminEvent("key.list")); errs <- err }()
			}
			inner.Wait()
		}()
	}
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep := mustVerify(t, seedPool, keys)
	if !rep.OK() || rep.Events != seeded+2*perInstance {
		t.Fatalf("report %v, want %d events", rep, seeded+2*perInstance)
	}
	// The first event of this month links to the last of the previous one,
	// and they sit in different partitions.
	var lastOld, firstNew int64
	var oldPart, newPart string
	err = seedPool.QueryRow(ctx, `SELECT max(id) FILTER (WHERE occurred_at < $1), min(id) FILTER (WHERE occurred_at >= $1) FROM audit_events`, monthStart).Scan(&lastOld, &firstNew)
	if err != nil {
		t.Fatal(err)
	}
	if firstNew != lastOld+1 {
		t.Fatalf("last event before the month %d, first in it %d", lastOld, firstNew)
	}
	var linked bool
	err = seedPool.QueryRow(ctx, `SELECT n.prev_hash = o.hash, o.tableoid::regclass::text, n.tableoid::regclass::text
		FROM audit_events o, audit_events n WHERE o.id = $1 AND n.id = $2`, lastOld, firstNew).Scan(&linked, &oldPart, &newPart)
	if err != nil {
		t.Fatal(err)
	}
	if !linked || oldPart == newPart || newPart != monthName(now) {
		t.Fatalf("boundary: linked %v, %s → %s", linked, oldPart, newPart)
	}
	var distinctPrev, total int
	if err := seedPool.QueryRow(ctx, `SELECT count(DISTINCT prev_hash), count(*) FROM audit_events`).Scan(&distinctPrev, &total); err != nil {
		t.Fatal(err)
	}
	if distinctPrev != total {
		t.Fatalf("%d distinct prev hashes for %d events: the chain forked", distinctPrev, total)
	}
}

// A trail written under the single-table schema (months of it, and a
// checkpoint) verifies after 016 converts it in place, and grows on.
func TestTrailWrittenBeforePartitioningVerifiesAfter(t *testing.T) {
	url := pgtest.NewEmptyDatabase(t)
	ctx := context.Background()
	keys := testKeys(t)
	if _, err := db.MigrateTo(ctx, url, 15); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// 30 events three days apart over the last three months, chained in
	// SQL as audit_append would have, then live appends and a checkpoint.
	_, err = pool.Exec(ctx, `DO $$
DECLARE prev bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'; h bytea; t timestamptz;
BEGIN
    FOR i IN 1..30 LOOP
        t := date_trunc('microseconds', now() - interval '91 days' + i * interval '3 days');
        h := sha256(prev || audit_canonical_v1(i, t, 'system', '', 'old', 'tenant-a', 'Tenant A', 'na1', '', '', '',
            'key.list', '', 'success', NULL, '', '', NULL, '{}'));
        INSERT INTO audit_events (id, occurred_at, actor_kind, actor_user_id, actor_name, tenant_id, tenant_name,
            region, session_hash, client_ip, user_agent, action, target_key_id, outcome, upstream_status,
            error_message, request_id, intent_id, details, hash_version, prev_hash, hash)
        VALUES (i, t, 'system', '', 'old', 'tenant-a', 'Tenant A', 'na1', '', '', '', 'key.list', '', 'success',
            NULL, '', '', NULL, '{}', 1, prev, h);
        prev := h;
    END LOOP;
END $$`)
	if err != nil {
		t.Fatal(err)
	}
	w := audit.NewWriter(pool, keys, quiet())
	appendN(t, w, 5)
	cp, err := w.Checkpoint(ctx)
	if err != nil || cp == nil {
		t.Fatalf("checkpoint %v, %v", cp, err)
	}
	var headBefore []byte
	if err := pool.QueryRow(ctx, `SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1`).Scan(&headBefore); err != nil {
		t.Fatal(err)
	}

	if _, err := db.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	pool.Reset() // plans cached against the old table
	var kind string
	if err := pool.QueryRow(ctx, `SELECT relkind::text FROM pg_class WHERE oid = 'audit_events'::regclass`).Scan(&kind); err != nil || kind != "p" {
		t.Fatalf("audit_events relkind %q, %v: not partitioned", kind, err)
	}
	if n := len(partitionNames(t, pool)); n < 4 {
		t.Fatalf("%d partitions for three months of events and the next month", n)
	}
	after := mustVerify(t, pool, keys)
	if !after.OK() || after.Events != 40 || string(after.Head) != string(headBefore) || after.Checkpoints != 1 {
		t.Fatalf("after: %v (checkpoints %d), head before %x", after, after.Checkpoints, headBefore)
	}
	appendN(t, w, 2)
	if _, err := w.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, pool, keys); !rep.OK() || rep.Events != 44 {
		t.Fatalf("after more appends: %v", rep)
	}
}

// DELETE, TRUNCATE, DETACH, DROP and RENAME of a month are refused, to the
// owner too and with the archive setting forged, outside the archive path.
func TestMonthsCannotBeDetachedOrDroppedOutsideTheArchive(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	keys := testKeys(t)
	appendN(t, audit.NewWriter(pool, keys, quiet()), 2)
	month := monthName(time.Now())
	for _, sql := range []string{
		`DELETE FROM ` + month,
		`UPDATE ` + month + ` SET actor_name = 'Mallory'`,
		`TRUNCATE ` + month,
		`ALTER TABLE audit_events DETACH PARTITION ` + month,
		`DROP TABLE ` + month,
		`ALTER TABLE ` + month + ` RENAME TO mallory`,
		`DROP TABLE audit_events`,
		`BEGIN; SET LOCAL keyport.audit_archive = '` + month + `'; ALTER TABLE audit_events DETACH PARTITION ` + month + `; COMMIT`,
		`BEGIN; SET LOCAL keyport.audit_archive = '` + month + `'; DROP TABLE ` + month + `; COMMIT`,
		`SELECT audit_archive_month('` + month + `', 1, 4, '\x00', '\x00', 4, '\x00', 1, '{}')`,
	} {
		t.Run(sql, func(t *testing.T) {
			_, err := pool.Exec(ctx, sql)
			if err == nil {
				t.Fatalf("%s succeeded", sql)
			}
			_, _ = pool.Exec(ctx, `ROLLBACK`)
			if msg := err.Error(); !strings.Contains(msg, "append-only") && !strings.Contains(msg, "not over yet") {
				t.Fatalf("%s failed for another reason: %v", sql, err)
			}
		})
	}
	if rep := mustVerify(t, pool, keys); !rep.OK() || rep.Events != 4 {
		t.Fatalf("after refused tampering: %v", rep)
	}
}
