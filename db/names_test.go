package db_test

import (
	"context"
	"testing"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// A user's name is the latest one the tenant's trail recorded for them,
// matched whatever the id's case; other tenants, other areas and a name
// that is only the id again name nobody.
func TestUserNamesAreTheLatestSeenInTheTenant(t *testing.T) {
	q := db.New(pgtest.NewPool(t))
	ctx := context.Background()
	for _, e := range []kp.AuditEvent{
		{ActorUserID: "aaaa-1", ActorName: "old@acme.example", TenantID: "tenant-a", Region: "na1"},
		{ActorUserID: "aaaa-1", ActorName: "ada@acme.example", TenantID: "tenant-a", Region: "na1"},
		{ActorUserID: "bbbb-2", ActorName: "bob@globex.example", TenantID: "tenant-b", Region: "na1"},
		{ActorUserID: "cccc-3", ActorName: "cy@acme.example", TenantID: "tenant-a", Region: "eu1"},
		{ActorUserID: "dddd-4", ActorName: "dddd-4", TenantID: "tenant-a", Region: "na1"},
	} {
		e.ActorKind, e.Action, e.Outcome = kp.ActorAdmin, kp.KeyList, kp.OutcomeSuccess
		if err := q.AppendAuditEvent(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := q.UserNames(ctx, "na1", "tenant-a", []string{"AAAA-1", "bbbb-2", "cccc-3", "dddd-4", "eeee-5"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["aaaa-1"] != "ada@acme.example" {
		t.Errorf("UserNames = %v, want only aaaa-1 → ada@acme.example", got)
	}
}
