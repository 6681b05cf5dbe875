package audit_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestVerifyRunsInTheBackgroundAndRecordsItsOutcome(t *testing.T) {
	pool := pgtest.NewPool(t)
	r := audit.NewReader(pool, audit.NewWriter(pool, testKeys(t), quiet()), nil, quiet())
	ctx := context.Background()
	if _, err := audit.Seed(ctx, pool, 25000, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	who := audit.Reviewer{Username: "alice"}
	run, err := r.StartVerify(ctx, who)
	if err != nil || run.Status != "running" {
		t.Fatalf("start: %+v, %v", run, err)
	}
	r.Wait()
	got, err := r.VerifyRun(ctx, run.ID)
	if err != nil || got.Status != "verified" || got.Events != 25001 || audit.RunPercent(got) != 100 {
		t.Fatalf("run = %+v, %v", got, err)
	}
	var outcome string
	if err := pool.QueryRow(ctx, `SELECT outcome FROM audit_events WHERE action = 'audit.verify' AND outcome <> 'intent'`).Scan(&outcome); err != nil || outcome != "success" {
		t.Fatalf("audit.verify outcome %q, %v", outcome, err)
	}
}

// The event list's filters must walk indexes, never the whole table. The
// planner's choice depends on statistics, so the trail is seeded to 200k
// events and analysed, as a real one would be.
func TestNoFilterSeqScansTheEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 200k events")
	}
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	now := time.Now()
	if _, err := audit.Seed(ctx, pool, 200_000, 7, now); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}
	empty := emptyPartitions(t, pool)
	q := db.New(pool)
	for _, tc := range explainCases(now) {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := q.ExplainAuditEvents(ctx, tc.f, 50)
			if err != nil {
				t.Fatal(err)
			}
			if p := seqScanned(plan, empty); p != "" {
				t.Fatalf("plan reads the whole of %s:\n%s", p, plan)
			}
			// The grouped list (one row per action, reads hidden) walks
			// the same indexes, probing audit_events_intent per row.
			plan, err = q.ExplainAuditActions(ctx, tc.f, audit.ReadActions, 50)
			if err != nil {
				t.Fatal(err)
			}
			if p := seqScanned(plan, empty); p != "" {
				t.Fatalf("grouped plan reads the whole of %s:\n%s", p, plan)
			}
		})
	}
}

// emptyPartitions are the months with no events yet (created ahead), as
// ANALYZE last saw them: a plan may read those whole, for free.
func emptyPartitions(t testing.TB, pool *pgxpool.Pool) map[string]bool {
	t.Helper()
	empty := map[string]bool{}
	rows, err := pool.Query(context.Background(), `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'audit_events'::regclass AND c.reltuples <= 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		empty[name] = true
	}
	return empty
}

var seqScanRE = regexp.MustCompile(`Seq Scan on (audit_events\w*)`)

// seqScanned returns a partition of audit_events (or the table) the plan
// reads whole, other than the empty ones.
func seqScanned(plan string, empty map[string]bool) string {
	for _, m := range seqScanRE.FindAllStringSubmatch(plan, -1) {
		if !empty[m[1]] {
			return m[1]
		}
	}
	return ""
}

type explainCase struct {
	name string
	f    kp.AuditFilter
}

// explainCases are the list's filters alone and in the combinations the
// pages link to, with values that occur in a seeded trail.
func explainCases(now time.Time) []explainCase {
	tenant := "22222222-2222-4222-8222-222222222222"
	return []explainCase{
		{"no filter", kp.AuditFilter{}},
		{"time range", kp.AuditFilter{From: now.Add(-10 * 24 * time.Hour), To: now.Add(-9 * 24 * time.Hour)}},
		{"from only", kp.AuditFilter{From: now.Add(-24 * time.Hour)}},
		{"tenant", kp.AuditFilter{TenantID: tenant}},
		{"area", kp.AuditFilter{Region: "eu1"}},
		{"actor", kp.AuditFilter{ActorUserID: "22222222-user-3"}},
		{"action", kp.AuditFilter{Action: "key.delete"}},
		{"outcome failure", kp.AuditFilter{Outcome: "failure"}},
		{"outcome success", kp.AuditFilter{Outcome: "success"}},
		{"key id", kp.AuditFilter{KeyID: "SEEDKEY2222000042"}},
		{"request id", kp.AuditFilter{RequestID: "0123456789abcdef01234567"}},
		{"text", kp.AuditFilter{Text: "(502)"}},
		{"tenant and outcome", kp.AuditFilter{TenantID: tenant, Outcome: "denied"}},
		{"tenant, action and time", kp.AuditFilter{TenantID: tenant, Action: "key.create", From: now.Add(-7 * 24 * time.Hour)}},
		{"outcome since a day (activity link)", kp.AuditFilter{Outcome: "unknown", From: now.Add(-29 * 24 * time.Hour)}},
	}
}
