package pgtest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/pglocal"
)

// Replicated is a primary and its streaming replica, both pglocal clusters
// of the test's own (not the package's shared server), with a migrated
// database "keyport" on the primary that the replica follows.
type Replicated struct {
	PrimaryURL, ReplicaURL string // superuser URLs of database keyport
	Primary, Replica       *pglocal.Cluster
}

// NewReplicated starts a primary, migrates database keyport on it, copies
// it with pg_basebackup -R and starts the copy as a hot standby; both are
// stopped and removed in t.Cleanup. It takes a few seconds: only the
// replica tests use it.
func NewReplicated(t testing.TB) *Replicated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	dir, err := pglocal.MkdirTemp(scratchParent(), tmpPattern)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	opts := pglocal.Options{Settings: pglocal.FastSettings(), Logger: slog.New(slog.DiscardHandler)}
	primary, err := pglocal.New(filepath.Join(dir, "primary"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := primary.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Stop(context.Background()) })
	admin := primary.URL("postgres")
	if err := exec(ctx, admin, `CREATE DATABASE keyport`); err != nil {
		t.Fatal(err)
	}
	r := &Replicated{PrimaryURL: primary.URL("keyport"), Primary: primary}
	if _, err := db.Migrate(ctx, r.PrimaryURL); err != nil {
		t.Fatal(err)
	}
	replica, err := primary.NewReplica(ctx, filepath.Join(dir, "replica"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replica.Stop(context.Background()) })
	r.Replica, r.ReplicaURL = replica, replica.URL("keyport")
	return r
}

func exec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
