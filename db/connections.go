package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/kp"
)

// ConnectionRow is one CXone connection of a session. Tokens is sealed.
type ConnectionRow struct {
	ID               string
	SessionIDHash    []byte
	Region           kp.Region
	TenantID         string
	TenantName       string
	UserID           string
	UserName         string
	BusinessUnit     string
	IdentityVerified bool
	Tokens           []byte
	AccessExpiresAt  time.Time
	RefreshExpiresAt *time.Time
	State            string
	CanManageOthers  *bool
	CreatedAt        time.Time
}

const connectionColumns = `id::text, session_id_hash, region, tenant_id, tenant_name, user_id, user_name, business_unit,
	identity_verified, tokens, access_expires_at, refresh_expires_at, state, can_manage_others, created_at`

func scanConnection(row pgx.Row) (*ConnectionRow, error) {
	var c ConnectionRow
	err := row.Scan(&c.ID, &c.SessionIDHash, &c.Region, &c.TenantID, &c.TenantName, &c.UserID, &c.UserName,
		&c.BusinessUnit, &c.IdentityVerified, &c.Tokens, &c.AccessExpiresAt, &c.RefreshExpiresAt, &c.State,
		&c.CanManageOthers, &c.CreatedAt)
	return &c, err
}

// UpsertConnection stores a session's connection to (region, tenant, user),
// replacing the tokens of an existing one (reconnecting after expiry keeps
// the connection's id). It returns the stored row's id.
func (q *Queries) UpsertConnection(ctx context.Context, c *ConnectionRow) (string, error) {
	// The user's name is remembered for pages that show names (cxone_users),
	// in the same statement.
	const sql = `WITH named AS (
			INSERT INTO cxone_users (region, tenant_id, user_key, user_id, name, seen_at)
			SELECT $3, $4, lower($6), $6, $7, $13 WHERE $7 <> '' AND $7 <> $6 AND $6 <> ''
			ON CONFLICT (region, tenant_id, user_key) DO UPDATE SET user_id = EXCLUDED.user_id, name = EXCLUDED.name,
				seen_at = EXCLUDED.seen_at WHERE cxone_users.seen_at <= EXCLUDED.seen_at
		)
		INSERT INTO connections (id, session_id_hash, region, tenant_id, tenant_name, user_id, user_name,
			business_unit, identity_verified, tokens, access_expires_at, refresh_expires_at, state, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13)
		ON CONFLICT (session_id_hash, region, tenant_id, user_id) DO UPDATE SET
			tenant_name = EXCLUDED.tenant_name, user_name = EXCLUDED.user_name, business_unit = EXCLUDED.business_unit,
			identity_verified = EXCLUDED.identity_verified, tokens = EXCLUDED.tokens,
			access_expires_at = EXCLUDED.access_expires_at, refresh_expires_at = EXCLUDED.refresh_expires_at,
			state = 'active'
		RETURNING id::text`
	var id string
	err := q.db.QueryRow(ctx, sql, c.ID, c.SessionIDHash, c.Region, c.TenantID, c.TenantName, c.UserID, c.UserName,
		c.BusinessUnit, c.IdentityVerified, c.Tokens, c.AccessExpiresAt, c.RefreshExpiresAt, c.CreatedAt).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("store connection: %w", err)
	}
	return id, nil
}

// SessionConnections returns a session's connections, oldest first.
func (q *Queries) SessionConnections(ctx context.Context, sessionIDHash []byte) ([]ConnectionRow, error) {
	const sql = `SELECT ` + connectionColumns + ` FROM connections WHERE session_id_hash = $1 ORDER BY created_at, id`
	return q.connections(ctx, sql, sessionIDHash)
}

// SessionConnection returns one of a session's connections. A connection of
// another session is kp.NotFound, exactly like a missing one.
func (q *Queries) SessionConnection(ctx context.Context, sessionIDHash []byte, id string) (*ConnectionRow, error) {
	const sql = `SELECT ` + connectionColumns + ` FROM connections WHERE session_id_hash = $1 AND id::text = $2`
	c, err := scanConnection(q.db.QueryRow(ctx, sql, sessionIDHash, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "That connection is not part of your session.")
	}
	if err != nil {
		return nil, fmt.Errorf("read connection: %w", err)
	}
	return c, nil
}

// ActiveConnectionsInTenant returns live connections to a tenant in a region
// (for `keyport reconcile`, which has no session of its own).
func (q *Queries) ActiveConnectionsInTenant(ctx context.Context, region kp.Region, tenantID string) ([]ConnectionRow, error) {
	const sql = `SELECT ` + connectionColumns + ` FROM connections c
		WHERE region = $1 AND tenant_id = $2 AND state = 'active'
		  AND EXISTS (SELECT 1 FROM sessions s WHERE s.id_hash = c.session_id_hash AND s.expires_at > now())
		ORDER BY can_manage_others DESC NULLS LAST, created_at DESC`
	return q.connections(ctx, sql, region, tenantID)
}

// UpdateConnectionTokens stores refreshed tokens.
func (q *Queries) UpdateConnectionTokens(ctx context.Context, id string, tokens []byte, accessExp time.Time, refreshExp *time.Time) error {
	const sql = `UPDATE connections SET tokens = $2, access_expires_at = $3, refresh_expires_at = $4, state = 'active' WHERE id::text = $1`
	if _, err := q.db.Exec(ctx, sql, id, tokens, accessExp, refreshExp); err != nil {
		return fmt.Errorf("store refreshed tokens: %w", err)
	}
	return nil
}

// MarkConnectionExpired records that a connection's refresh token is dead.
func (q *Queries) MarkConnectionExpired(ctx context.Context, id string) error {
	if _, err := q.db.Exec(ctx, `UPDATE connections SET state = 'expired' WHERE id::text = $1`, id); err != nil {
		return fmt.Errorf("mark connection expired: %w", err)
	}
	return nil
}

// SetCanManageOthers records whether the connection's user holds the
// "Access Key" privilege, learnt from a tenant-wide list (403 = no).
func (q *Queries) SetCanManageOthers(ctx context.Context, id string, can bool) error {
	if _, err := q.db.Exec(ctx, `UPDATE connections SET can_manage_others = $2 WHERE id::text = $1`, id, can); err != nil {
		return fmt.Errorf("record privilege: %w", err)
	}
	return nil
}

// DeleteConnection removes one of a session's connections.
func (q *Queries) DeleteConnection(ctx context.Context, sessionIDHash []byte, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM connections WHERE session_id_hash = $1 AND id::text = $2`, sessionIDHash, id)
	if err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kp.Errorf(kp.NotFound, "That connection is not part of your session.")
	}
	return nil
}

// SessionConnectionByID returns a connection by id alone. Callers must have
// obtained the id from the session's own connections.
func (q *Queries) SessionConnectionByID(ctx context.Context, id string) (*ConnectionRow, error) {
	c, err := scanConnection(q.db.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections WHERE id::text = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "That connection no longer exists. Connect again.")
	}
	if err != nil {
		return nil, fmt.Errorf("read connection: %w", err)
	}
	return c, nil
}

func (q *Queries) connections(ctx context.Context, sql string, args ...any) ([]ConnectionRow, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConnectionRow, error) {
		c, err := scanConnection(r)
		if err != nil {
			return ConnectionRow{}, fmt.Errorf("read connection: %w", err)
		}
		return *c, nil
	})
}
