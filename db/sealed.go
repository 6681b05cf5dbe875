package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SealedColumn is one column of values sealed with the encryption key
// (internal/seal): what `keyport rekey` re-encrypts and `keyport keys
// status` counts by key id.
type SealedColumn struct {
	Name string // as reports say it: "tokens", "totp seeds", "session data"
	// start is the row key that sorts before every row (page's first $1).
	start string
	// page reads up to $3 rows whose key sorts after $1 and whose value
	// does not start with the header $2 (the newest key's), as (row key,
	// sealed value); the row key is text, the AAD's source.
	page string
	// swap replaces, per row key in $1, the value $2 with $3, only where
	// the row still holds $2 (compare-and-swap: a portal that wrote the row
	// meanwhile wrote it under the newest key, and wins).
	swap string
	// count groups the live values by the key id in their header ('' for a
	// value sealed before key ids); $1, where used, is now.
	count   string
	withNow bool
}

// keyIDOf is the SQL of a sealed value's key id (seal's version-2 header).
func keyIDOf(col string) string {
	return `CASE WHEN substring(` + col + ` from 1 for 1) = '\x02'::bytea THEN encode(substring(` + col + ` from 2 for 4), 'hex') ELSE '' END`
}

// SealedColumns are every sealed column, in the order rekey walks them.
var SealedColumns = []SealedColumn{
	{
		Name:  "tokens",
		start: "00000000-0000-0000-0000-000000000000",
		page: `SELECT id::text, tokens FROM connections
			WHERE id > $1::uuid AND substring(tokens from 1 for 5) <> $2 ORDER BY id LIMIT $3`,
		swap: `UPDATE connections c SET tokens = v.new FROM unnest($1::uuid[], $2::bytea[], $3::bytea[]) AS v(id, old, new)
			WHERE c.id = v.id AND c.tokens = v.old`,
		count: `SELECT ` + keyIDOf("tokens") + `, count(*), max(created_at) FROM connections GROUP BY 1`,
	},
	{
		Name: "totp seeds",
		page: `SELECT username, totp_sealed FROM reviewers
			WHERE username > $1 AND totp_sealed IS NOT NULL AND substring(totp_sealed from 1 for 5) <> $2 ORDER BY username LIMIT $3`,
		swap: `UPDATE reviewers r SET totp_sealed = v.new FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS v(username, old, new)
			WHERE r.username = v.username AND r.totp_sealed = v.old`,
		count: `SELECT ` + keyIDOf("totp_sealed") + `, count(*), max(updated_at) FROM reviewers
			WHERE totp_sealed IS NOT NULL GROUP BY 1`,
	},
	{
		Name: "session data",
		page: `SELECT encode(id_hash, 'hex'), data FROM sessions
			WHERE id_hash > decode($1, 'hex') AND substring(data from 1 for 5) <> $2 ORDER BY id_hash LIMIT $3`,
		swap: `UPDATE sessions s SET data = v.new FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS v(id, old, new)
			WHERE s.id_hash = decode(v.id, 'hex') AND s.data = v.old`,
		count:   `SELECT ` + keyIDOf("data") + `, count(*), max(expires_at) FROM sessions WHERE expires_at > $1 GROUP BY 1`,
		withNow: true,
	},
}

// SealedRow is one sealed value and the key of its row.
type SealedRow struct {
	RowKey string
	Sealed []byte
}

// SealedPage returns up to limit values of col not sealed under the key
// whose header is current, after the row key after ("" to start), in row
// key order: rekey's keyset paging.
func (q *Queries) SealedPage(ctx context.Context, col SealedColumn, after string, current []byte, limit int) ([]SealedRow, error) {
	if after == "" {
		after = col.start
	}
	rows, err := q.db.Query(ctx, col.page, after, current, limit)
	if err != nil {
		return nil, fmt.Errorf("read sealed %s: %w", col.Name, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SealedRow, error) {
		var s SealedRow
		err := r.Scan(&s.RowKey, &s.Sealed)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read sealed %s: %w", col.Name, err)
	}
	return out, nil
}

// SwapSealed replaces each row's old value with its new one where the row
// still holds the old, in one statement, and returns how many rows it
// changed; the others were written meanwhile (or deleted).
func (q *Queries) SwapSealed(ctx context.Context, col SealedColumn, keys []string, old, new [][]byte) (int64, error) {
	tag, err := q.db.Exec(ctx, col.swap, keys, old, new)
	if err != nil {
		return 0, fmt.Errorf("re-seal %s: %w", col.Name, err)
	}
	return tag.RowsAffected(), nil
}

// KeyUse is how many stored things one key id produced, and the latest
// time attached to them (a session's expiry, a connection's creation).
type KeyUse struct {
	KeyID  string // "" for things made before key ids
	Count  int64
	Latest *time.Time
}

// SealedKeyUse counts col's values per key id; sessions count only while
// they live.
func (q *Queries) SealedKeyUse(ctx context.Context, col SealedColumn, now time.Time) ([]KeyUse, error) {
	if col.withNow {
		return q.keyUse(ctx, "count sealed "+col.Name, col.count, now)
	}
	return q.keyUse(ctx, "count sealed "+col.Name, col.count)
}

// SessionCookieKeyUse counts live sessions per id of the session key that
// signed their cookie last, with the latest expiry.
func (q *Queries) SessionCookieKeyUse(ctx context.Context, now time.Time) ([]KeyUse, error) {
	const sql = `SELECT cookie_key_id, count(*), max(expires_at) FROM sessions WHERE expires_at > $1 GROUP BY 1`
	return q.keyUse(ctx, "count sessions by key", sql, now)
}

// FingerprintKeyUse counts recorded secret fingerprints per id of the audit
// key that made them.
func (q *Queries) FingerprintKeyUse(ctx context.Context) ([]KeyUse, error) {
	const sql = `SELECT fingerprint_key_id, count(*), max(created_at) FROM key_metadata
		WHERE secret_fingerprint <> '' GROUP BY 1`
	return q.keyUse(ctx, "count fingerprints by key", sql)
}

func (q *Queries) keyUse(ctx context.Context, what, sql string, args ...any) ([]KeyUse, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyUse, error) {
		var u KeyUse
		err := r.Scan(&u.KeyID, &u.Count, &u.Latest)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
