package db

import (
	"context"
	"fmt"
	"time"

	"github.com/keyport/keyport/internal/kp"
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

// ScanCredentials calls fn for every report row matching f, by tenant,
// area and key, reading limit rows per query (keyset), so a CSV of any
// size streams in constant memory.
func (q *Queries) ScanCredentials(ctx context.Context, f kp.CredentialFilter, limit int, fn func(*kp.Credential) error) error {
	const sql = `SELECT r.region, r.tenant_id, coalesce(s.tenant_name, ''), r.access_key_id, r.owner_user_id,
			coalesce(u.name, ''), coalesce(m.label, ''), r.active, m.created_at, coalesce(m.created_by_name, ''),
			r.last_used_at, m.last_verified_at, coalesce(m.last_verify_result, ''), coalesce(m.secret_lost, false),
			(r.last_used_at < $1 OR m.created_at < $1) AS stale, r.first_seen, r.last_seen, r.gone_at, s.as_of,
			coalesce(pv.rules, '{}'), coalesce(pv.limits, '{}'), pv.since
		FROM credential_report r
		LEFT JOIN key_metadata m USING (region, tenant_id, access_key_id)
		LEFT JOIN credential_scans s USING (region, tenant_id)
		LEFT JOIN cxone_users u ON u.region = r.region AND u.tenant_id = r.tenant_id AND u.user_key = lower(r.owner_user_id)
		LEFT JOIN LATERAL (SELECT array_agg(v.rule ORDER BY v.rule) AS rules, array_agg(v.limit_days ORDER BY v.rule) AS limits,
				min(v.started_at) AS since
			FROM policy_violations v WHERE v.region = r.region AND v.tenant_id = r.tenant_id
			  AND v.access_key_id = r.access_key_id AND v.ended_at IS NULL) pv ON true
		WHERE (r.region, r.tenant_id, r.access_key_id) > ($2, $3, $4)
		  AND ($5 = '' OR r.region = $5)
		  AND ($6 = '' OR r.tenant_id = $6 OR s.tenant_name ILIKE '%' || $6 || '%')
		  AND ($7 = '' OR r.owner_user_id = $7 OR u.name ILIKE '%' || $7 || '%')
		  AND ($8 = '' OR ($8 = 'active' AND r.active) OR ($8 = 'inactive' AND NOT r.active) OR ($8 = 'unknown' AND r.active IS NULL))
		  AND (NOT $9 OR r.last_used_at < $1 OR m.created_at < $1)
		  AND (NOT $10 OR m.created_at IS NULL)
		  AND (NOT $11 OR m.last_verified_at IS NULL)
		  AND (NOT $12 OR m.secret_lost)
		  AND (($13 = '' AND r.gone_at IS NULL) OR ($13 = 'yes' AND r.gone_at IS NOT NULL) OR $13 = 'all')
		  AND ($15 = '' OR ($15 = 'any' AND pv.rules IS NOT NULL) OR $15 = ANY(pv.rules))
		ORDER BY r.region, r.tenant_id, r.access_key_id
		LIMIT $14`
	after := [3]string{}
	for {
		rows, err := q.db.Query(ctx, sql, f.StaleBefore, after[0], after[1], after[2], f.Region, f.Tenant, f.Owner, f.State,
			f.Stale, f.Outside, f.NeverVerified, f.SecretLost, f.Gone, limit, f.Violation)
		if err != nil {
			return fmt.Errorf("read the credential report: %w", err)
		}
		n := 0
		var c kp.Credential
		for rows.Next() {
			var stale *bool
			if err := rows.Scan(&c.Region, &c.TenantID, &c.TenantName, &c.KeyID, &c.OwnerID, &c.OwnerName, &c.Label, &c.Active,
				&c.CreatedAt, &c.CreatedBy, &c.LastUsed, &c.LastVerified, &c.VerifyResult, &c.SecretLost, &stale,
				&c.FirstSeen, &c.LastSeen, &c.GoneAt, &c.AsOf, &c.Violations, &c.ViolationLimits, &c.ViolatingSince); err != nil {
				rows.Close()
				return fmt.Errorf("read a credential: %w", err)
			}
			c.Stale = stale != nil && *stale
			n++
			after = [3]string{c.Region, c.TenantID, c.KeyID}
			if err := fn(&c); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read the credential report: %w", err)
		}
		if n < limit {
			return nil
		}
	}
}
