package policy_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/policy"
	"github.com/keyport/keyport/internal/secret"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func ptr[T any](v T) *T { return &v }

func TestApplyAndChecks(t *testing.T) {
	global := kp.Policy{}.Apply(kp.PolicySetting{MaxAgeDays: ptr(90), LabelRequired: ptr(true), MaxActivePerUser: ptr(2)})
	tenant := global.Apply(kp.PolicySetting{TenantID: "t", MaxAgeDays: ptr(0), MaxIdleDays: ptr(30)})
	if global != (kp.Policy{MaxAgeDays: 90, MaxActivePerUser: 2, LabelRequired: true}) ||
		tenant != (kp.Policy{MaxIdleDays: 30, MaxActivePerUser: 2, LabelRequired: true}) {
		t.Fatalf("global %+v, tenant %+v", global, tenant)
	}
	if policy.CheckLabel(global, " ") == nil || policy.CheckLabel(global, "x") != nil || policy.CheckLabel(kp.Policy{}, "") != nil {
		t.Error("label rule")
	}
	if err := policy.CheckActive(global, "ada", 2); err == nil || !strings.Contains(kp.MessageOf(err), "ada already has 2") {
		t.Errorf("cap at 2 with 2 active: %v", err)
	}
	if policy.CheckActive(global, "ada", 1) != nil || policy.CheckActive(kp.Policy{}, "ada", 99) != nil {
		t.Error("cap allows what it should")
	}
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	old, recent := now.AddDate(0, 0, -91), now.AddDate(0, 0, -10)
	for _, c := range []struct {
		p    kp.Policy
		k    policy.KeyFacts
		want string
	}{
		{global, policy.KeyFacts{Active: true, Since: &old}, "max_age"},
		{global, policy.KeyFacts{Active: false, Since: &old}, ""},
		{global, policy.KeyFacts{Active: true, Since: &recent}, ""},
		{global, policy.KeyFacts{Active: true}, ""},
		{tenant, policy.KeyFacts{Active: true, Since: &old, LastUsed: &recent}, ""},
		{tenant, policy.KeyFacts{Active: true, Since: &old}, "max_idle"},
		{kp.Policy{MaxAgeDays: 90, MaxIdleDays: 30}, policy.KeyFacts{Active: true, Since: &old}, "max_age max_idle"},
	} {
		var got []string
		for _, b := range policy.Check(c.p, c.k, now) {
			got = append(got, b.Rule)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("Check(%+v) = %v, want %q", c.p, got, c.want)
		}
	}
	for in, ok := range map[string]bool{"": true, "0": true, "90": true, "3650": true, "3651": false, "-1": false, "ten": false} {
		if _, err := policy.ParseDays(in, "max key age", policy.MaxDays); (err == nil) != ok {
			t.Errorf("ParseDays(%q): %v", in, err)
		}
	}
}

// Two instances (two pools, two services) syncing the same tenant at once
// record the violation's start once, and its end once.
func TestSyncRecordsOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	keys, err := audit.DeriveKeys(keyring.New(secret.New(strings.Repeat("k", 32))))
	if err != nil {
		t.Fatal(err)
	}
	var svcs []*policy.Service
	var pool *pgxpool.Pool
	for range 2 {
		p, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		pool = p
		svcs = append(svcs, policy.New(p, audit.NewWriter(p, keys, slog.New(slog.DiscardHandler)), slog.New(slog.DiscardHandler), time.Now))
	}
	active := true
	scan := db.CredentialScan{Region: "na1", TenantID: "t-1", TenantName: "Acme", Complete: true, At: time.Now().AddDate(0, 0, -100),
		Keys: []db.SeenKey{{ID: "KEY1", OwnerUserID: "u", Active: &active}}}
	if err := db.New(pool).RecordCredentialScan(ctx, scan); err != nil {
		t.Fatal(err)
	}
	if err := db.New(pool).SetPolicy(ctx, kp.PolicySetting{MaxAgeDays: ptr(90), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	syncAll := func() {
		var wg sync.WaitGroup
		for range 4 {
			for _, s := range svcs {
				wg.Add(1)
				go func() { defer wg.Done(); s.Sync(ctx, "na1", "t-1") }()
			}
		}
		wg.Wait()
	}
	count := func(action string) (n int) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = $1 AND target_key_id = 'KEY1'`, action).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	syncAll()
	if v, o := count("policy.violation"), count("key.seen_outside"); v != 1 || o != 1 {
		t.Fatalf("%d policy.violation and %d key.seen_outside events, want 1 each", v, o)
	}
	if err := db.New(pool).SetPolicy(ctx, kp.PolicySetting{UpdatedAt: time.Now()}); err != nil { // the rule lifted
		t.Fatal(err)
	}
	syncAll()
	if n := count("policy.resolved"); n != 1 {
		t.Fatalf("%d policy.resolved events, want 1", n)
	}
}
