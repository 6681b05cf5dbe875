package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"github.com/keyport/keyport/migrations"
)

// versionTable is where tern records the applied migration number.
const versionTable = "schema_version"

// SchemaStatus is the applied and the expected migration number.
type SchemaStatus struct {
	Current int32
	Want    int32
}

// UpToDate reports whether every embedded migration has been applied.
func (s SchemaStatus) UpToDate() bool { return s.Current == s.Want }

func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return nil, fmt.Errorf("new migrator: %w", err)
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return m, nil
}

// Migrate applies every pending migration on a dedicated connection. tern
// holds a session advisory lock while it works, so concurrent runs from
// several instances serialize and the later ones find nothing to do.
func Migrate(ctx context.Context, databaseURL string) (SchemaStatus, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return SchemaStatus{}, fmt.Errorf("connect for migration: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return SchemaStatus{}, err
	}
	if err := m.Migrate(ctx); err != nil {
		return SchemaStatus{}, fmt.Errorf("migrate: %w", err)
	}
	return status(ctx, conn, m)
}

// MigrateTo applies the embedded migrations up to version and no further:
// tests write a trail under an older schema, then apply the rest.
func MigrateTo(ctx context.Context, databaseURL string, version int32) (SchemaStatus, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return SchemaStatus{}, fmt.Errorf("connect for migration: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return SchemaStatus{}, err
	}
	if err := m.MigrateTo(ctx, version); err != nil {
		return SchemaStatus{}, fmt.Errorf("migrate to %d: %w", version, err)
	}
	return status(ctx, conn, m)
}

// Status returns the schema status of the database at databaseURL.
func Status(ctx context.Context, q Querier) (SchemaStatus, error) {
	want, err := migrate.FindMigrations(migrations.FS)
	if err != nil {
		return SchemaStatus{}, fmt.Errorf("find migrations: %w", err)
	}
	s := SchemaStatus{Want: int32(len(want))}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, versionTable).Scan(&exists); err != nil {
		return s, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return s, nil
	}
	if err := q.QueryRow(ctx, `SELECT version FROM `+versionTable).Scan(&s.Current); err != nil {
		return s, fmt.Errorf("read schema version: %w", err)
	}
	return s, nil
}

func status(ctx context.Context, conn *pgx.Conn, m *migrate.Migrator) (SchemaStatus, error) {
	cur, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return SchemaStatus{}, fmt.Errorf("read schema version: %w", err)
	}
	return SchemaStatus{Current: cur, Want: int32(len(m.Migrations))}, nil
}
