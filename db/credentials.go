package db

import (
	"context"
	"fmt"
	"time"
)

// SeenKey is one key as CXone listed it.
type SeenKey struct {
	ID, OwnerUserID string
	Active          *bool // nil: CXone did not say
	LastUsed        *time.Time
}

// CredentialScan is one observation of a tenant's keys. Complete says the
// list held every key in Scope (not a page of it, not a list CXone flagged
// as possibly incomplete); only then are the keys it lacks marked gone.
// OwnerOnly limits what the list covered to one owner's keys (a user
// with "My Access Key" only).
type CredentialScan struct {
	Region, TenantID, TenantName string
	Keys                         []SeenKey
	Complete                     bool
	OwnerOnly                    string
	At                           time.Time
}

// RecordCredentialScan upserts every listed key, marks gone what a complete
// list lacks, and stamps the tenant's "as of" when the list was the whole
// tenant's, in one statement. One key seen (a create, a state change) is a
// scan that is not complete.
func (q *Queries) RecordCredentialScan(ctx context.Context, s CredentialScan) error {
	const sql = `WITH seen AS (
		SELECT * FROM unnest($3::text[], $4::text[], $5::boolean[], $6::timestamptz[]) AS s(id, owner, active, last_used)
	), up AS (
		INSERT INTO credential_report AS r (region, tenant_id, access_key_id, owner_user_id, active, last_used_at, first_seen, last_seen)
		SELECT $1, $2, id, owner, active, last_used, $7, $7 FROM seen
		ON CONFLICT (region, tenant_id, access_key_id) DO UPDATE SET owner_user_id = EXCLUDED.owner_user_id,
			active = EXCLUDED.active, last_used_at = COALESCE(EXCLUDED.last_used_at, r.last_used_at),
			last_seen = EXCLUDED.last_seen, gone_at = NULL
		RETURNING 1
	), gone AS (
		UPDATE credential_report SET gone_at = $7
		WHERE $8 AND region = $1 AND tenant_id = $2 AND gone_at IS NULL
		  AND ($9 = '' OR owner_user_id = $9) AND NOT (access_key_id = ANY($3))
		RETURNING 1
	)
	INSERT INTO credential_scans (region, tenant_id, tenant_name, as_of, complete)
	SELECT $1, $2, $10, $7, $11 WHERE $11 OR NOT EXISTS (SELECT 1 FROM credential_scans WHERE region = $1 AND tenant_id = $2)
	ON CONFLICT (region, tenant_id) DO UPDATE SET tenant_name = EXCLUDED.tenant_name, as_of = EXCLUDED.as_of,
		complete = EXCLUDED.complete`
	ids := make([]string, len(s.Keys))
	owners := make([]string, len(s.Keys))
	active := make([]*bool, len(s.Keys))
	used := make([]*time.Time, len(s.Keys))
	for i, k := range s.Keys {
		ids[i], owners[i], active[i], used[i] = k.ID, k.OwnerUserID, k.Active, k.LastUsed
	}
	if _, err := q.db.Exec(ctx, sql, s.Region, s.TenantID, ids, owners, active, used, s.At,
		s.Complete, s.OwnerOnly, s.TenantName, s.Complete && s.OwnerOnly == ""); err != nil {
		return fmt.Errorf("record the credential report of %s/%s: %w", s.Region, s.TenantID, err)
	}
	return nil
}

// RecordCredentialGone marks one key gone (Keyport deleted it, or CXone
// answered that it does not exist).
func (q *Queries) RecordCredentialGone(ctx context.Context, region, tenantID, keyID string, at time.Time) error {
	const sql = `UPDATE credential_report SET gone_at = $4, last_seen = GREATEST(last_seen, $4)
		WHERE region = $1 AND tenant_id = $2 AND access_key_id = $3 AND gone_at IS NULL`
	if _, err := q.db.Exec(ctx, sql, region, tenantID, keyID, at); err != nil {
		return fmt.Errorf("record credential %s gone: %w", keyID, err)
	}
	return nil
}
