package db

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// instanceLockClass is the first key of every instance lock
// (pg_advisory_lock(class, instance)).
const instanceLockClass = 4242

// Instance is this process's claim to be alive: a session-level advisory
// lock held on a connection of its own for as long as the process runs.
// When the process dies (kill -9 included) PostgreSQL drops the connection
// and the lock with it, so other processes can tell that work the instance
// left half done (a create in state 'sending') will never be finished by it.
type Instance struct {
	Key  int32
	conn *pgx.Conn
}

// HoldInstance takes a fresh instance lock on a connection of its own.
func HoldInstance(ctx context.Context, pool *pgxpool.Pool) (*Instance, error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("instance lock: connect: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	key := int32(binary.BigEndian.Uint32(b[:]) & 0x7fffffff) // non-negative: compared as an oid in pg_locks
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, instanceLockClass, key); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("instance lock: %w", err)
	}
	return &Instance{Key: key, conn: conn}, nil
}

// Release gives the lock up (at a clean shutdown, after the drain).
func (i *Instance) Release(ctx context.Context) {
	if i != nil && i.conn != nil {
		_ = i.conn.Close(ctx)
	}
}

// instanceGone is SQL true when the instance lock named by the column
// expression key is held by no session: its process is gone.
func instanceGone(key string) string {
	return `NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid = ` + fmt.Sprint(instanceLockClass) + ` AND l.objid = (` + key + `)::oid AND l.objsubid = 2)`
}
