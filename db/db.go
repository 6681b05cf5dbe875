// Package db holds every SQL query Keyport runs, the connection pool and the
// schema migrations runner. It knows nothing of HTTP or views; callers pass
// typed values and get typed rows or *kp.Error values back.
package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier is what both *pgxpool.Pool and pgx.Tx offer, so one query method
// serves inside and outside a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// PoolConfig is the pool Keyport runs on: maxConns connections (Open's
// callers pass KEYPORT_DB_MAX_CONNS), a 5 s connect timeout, and the
// application name PostgreSQL shows in pg_stat_activity.
func PoolConfig(databaseURL string, maxConns int32) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's parse errors can echo the URL, password included: say less.
		return nil, fmt.Errorf("parse database URL: invalid connection string")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.ConnConfig.RuntimeParams["application_name"] = "keyport"
	return cfg, nil
}

// Open creates a pool of maxConns connections (pgx's default when 0) and
// checks, within the context's deadline, that the database answers. The
// caller closes the pool.
func Open(ctx context.Context, databaseURL string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := PoolConfig(databaseURL, maxConns)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database unreachable: %w", err)
	}
	return pool, nil
}

// Queries runs Keyport's SQL on a pool or inside a transaction.
type Queries struct{ db Querier }

// New returns Queries over q (a *pgxpool.Pool, a pgx.Tx or a *pgx.Conn).
func New(q Querier) *Queries { return &Queries{db: q} }

// WithTx runs fn in a transaction on pool, committing when fn returns nil.
func WithTx(ctx context.Context, pool *pgxpool.Pool, fn func(*Queries) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(New(tx)) })
}
