package db_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// A user's name is the one in their token when they last connected,
// matched whatever the id's case; other tenants, other areas and a name
// that is only the id again name nobody.
func TestUserNamesAreTheLatestSeenInTheTenant(t *testing.T) {
	q := db.New(pgtest.NewPool(t))
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	for i, c := range []db.ConnectionRow{
		{UserID: "aaaa-1", UserName: "old@acme.example", TenantID: "tenant-a", Region: "na1"},
		{UserID: "AAAA-1", UserName: "ada@acme.example", TenantID: "tenant-a", Region: "na1"},
		{UserID: "bbbb-2", UserName: "bob@globex.example", TenantID: "tenant-b", Region: "na1"},
		{UserID: "cccc-3", UserName: "cy@acme.example", TenantID: "tenant-a", Region: "eu1"},
		{UserID: "dddd-4", UserName: "dddd-4", TenantID: "tenant-a", Region: "na1"},
	} {
		c.ID, c.SessionIDHash = kp.NewUUID(), make([]byte, 32)
		rand.Read(c.SessionIDHash)
		if err := q.InsertSession(ctx, &db.SessionRow{IDHash: c.SessionIDHash, Kind: "admin", Data: []byte("x"),
			CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(8 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		c.Tokens, c.AccessExpiresAt, c.CreatedAt = []byte("sealed"), at.Add(time.Hour), at.Add(time.Duration(i)*time.Minute)
		if _, err := q.UpsertConnection(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := q.UserNames(ctx, "na1", "tenant-a", []string{"aaaa-1", "bbbb-2", "cccc-3", "dddd-4", "eeee-5"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["aaaa-1"] != "ada@acme.example" {
		t.Errorf("UserNames = %v, want only aaaa-1 → ada@acme.example", got)
	}
}
