package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// One key's notes are read within the tenant and area they were written
// in; anywhere else, and for a key Keyport never noted, there are none.
func TestKeyMetaReadsOneKeyWithinItsTenant(t *testing.T) {
	q := db.New(pgtest.NewPool(t))
	ctx := context.Background()
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, m := range []kp.KeyMeta{
		{Region: "na1", TenantID: "tenant-a", AccessKeyID: "KEY1", OwnerUserID: "u1", Label: "etl", CreatedAt: &created, SecretLast4: "ABCD"},
		{Region: "na1", TenantID: "tenant-a", AccessKeyID: "KEY2", OwnerUserID: "u2", Label: "other"},
	} {
		if err := q.InsertKeyMeta(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := q.KeyMeta(ctx, "na1", "tenant-a", "KEY1")
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != "KEY1" || got.OwnerUserID != "u1" || got.Label != "etl" || got.SecretLast4 != "ABCD" ||
		got.CreatedAt == nil || !got.CreatedAt.Equal(created) {
		t.Errorf("KeyMeta(KEY1) = %+v", got)
	}
	for _, tc := range []struct {
		name                  string
		region, tenant, keyID string
	}{
		{"another tenant", "na1", "tenant-b", "KEY1"},
		{"another area", "eu1", "tenant-a", "KEY1"},
		{"a key Keyport never noted", "na1", "tenant-a", "KEY3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := q.KeyMeta(ctx, kp.Region(tc.region), tc.tenant, tc.keyID)
			if err != nil {
				t.Fatal(err)
			}
			if got != (kp.KeyMeta{}) {
				t.Errorf("KeyMeta = %+v, want none", got)
			}
		})
	}
}
