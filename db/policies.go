package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/kp"
)

// policyCTE is the policy in force for tenant $2: the tenant's row over the
// global row (tenant_id ”), 0 for a rule neither sets.
const policyCTE = `pol AS (
		SELECT coalesce(t.max_age_days, g.max_age_days, 0) AS max_age,
			coalesce(t.max_idle_days, g.max_idle_days, 0) AS max_idle,
			coalesce(t.max_active_per_user, g.max_active_per_user, 0) AS max_active,
			coalesce(t.label_required, g.label_required, false) AS label_required
		FROM (SELECT 1) one
		LEFT JOIN key_policies g ON g.tenant_id = ''
		LEFT JOIN key_policies t ON t.tenant_id = $2 AND $2 <> '')`

// Policies returns every stored policy row, the global one first.
func (q *Queries) Policies(ctx context.Context) ([]kp.PolicySetting, error) {
	rows, err := q.db.Query(ctx, `SELECT tenant_id, max_age_days, max_idle_days, max_active_per_user, label_required,
		updated_at, updated_by FROM key_policies ORDER BY tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("read the key policies: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kp.PolicySetting, error) {
		var s kp.PolicySetting
		err := r.Scan(&s.TenantID, &s.MaxAgeDays, &s.MaxIdleDays, &s.MaxActivePerUser, &s.LabelRequired, &s.UpdatedAt, &s.UpdatedBy)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the key policies: %w", err)
	}
	return out, nil
}

// PolicySettingOf returns the stored row of tenantID ("" the global one),
// a zero setting when there is none.
func (q *Queries) PolicySettingOf(ctx context.Context, tenantID string) (kp.PolicySetting, error) {
	s := kp.PolicySetting{TenantID: tenantID}
	err := q.db.QueryRow(ctx, `SELECT max_age_days, max_idle_days, max_active_per_user, label_required, updated_at, updated_by
		FROM key_policies WHERE tenant_id = $1`, tenantID).Scan(&s.MaxAgeDays, &s.MaxIdleDays, &s.MaxActivePerUser,
		&s.LabelRequired, &s.UpdatedAt, &s.UpdatedBy)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("read the key policy: %w", err)
	}
	return s, nil
}

// EffectivePolicy returns the policy in force for tenantID.
func (q *Queries) EffectivePolicy(ctx context.Context, tenantID string) (kp.Policy, error) {
	var p kp.Policy
	sql := `WITH ` + strings.ReplaceAll(policyCTE, "$2", "$1") + ` SELECT max_age, max_idle, max_active, label_required FROM pol`
	err := q.db.QueryRow(ctx, sql, tenantID).Scan(&p.MaxAgeDays, &p.MaxIdleDays, &p.MaxActivePerUser, &p.LabelRequired)
	if err != nil {
		return p, fmt.Errorf("read the key policy of %s: %w", tenantID, err)
	}
	return p, nil
}

// SetPolicy replaces the stored row of s.TenantID.
func (q *Queries) SetPolicy(ctx context.Context, s kp.PolicySetting) error {
	_, err := q.db.Exec(ctx, `INSERT INTO key_policies (tenant_id, max_age_days, max_idle_days, max_active_per_user,
			label_required, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id) DO UPDATE SET max_age_days = EXCLUDED.max_age_days, max_idle_days = EXCLUDED.max_idle_days,
			max_active_per_user = EXCLUDED.max_active_per_user, label_required = EXCLUDED.label_required,
			updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
		s.TenantID, s.MaxAgeDays, s.MaxIdleDays, s.MaxActivePerUser, s.LabelRequired, s.UpdatedAt, s.UpdatedBy)
	if err != nil {
		return fmt.Errorf("store the key policy: %w", err)
	}
	return nil
}

// ViolationChange is a violation that started or ended in SyncViolations.
type ViolationChange struct {
	kp.Violation
	TenantName string
	OwnerID    string
	Label      string
	AsOf       *time.Time // the tenant's last whole list
}

// SyncViolations brings the open violations of one tenant in line with
// the credential report at now, in one statement: it opens a row for each
// active key past the age or idle limit that has none, and ends the open
// rows of keys that no longer break their rule (rotated, deactivated,
// deleted, used again, the rule lifted). It returns only what this call
// changed: a second instance syncing the same report meanwhile finds the
// rows opened (the unique index) or ended (the row lock) and returns
// nothing, so each start and end is reported once.
//
// A key's age runs from its creation through Keyport, else from when
// Keyport first saw it (CXone gives no creation date); its idle time from
// its last use, else from that same start.
func (q *Queries) SyncViolations(ctx context.Context, region kp.Region, tenantID string, now time.Time) ([]ViolationChange, error) {
	sql := `WITH ` + policyCTE + `, cur AS (
		SELECT r.access_key_id, v.rule, v.limit_days
		FROM credential_report r
		LEFT JOIN key_metadata m USING (region, tenant_id, access_key_id)
		CROSS JOIN pol
		CROSS JOIN LATERAL (VALUES ('max_age', pol.max_age, coalesce(m.created_at, r.first_seen)),
			('max_idle', pol.max_idle, coalesce(r.last_used_at, m.created_at, r.first_seen))) v(rule, limit_days, since)
		WHERE r.region = $1 AND r.tenant_id = $2 AND r.gone_at IS NULL AND r.active IS NOT FALSE
		  AND v.limit_days > 0 AND v.since < $3::timestamptz - make_interval(days => v.limit_days)
	), ended AS (
		UPDATE policy_violations p SET ended_at = $3
		WHERE p.region = $1 AND p.tenant_id = $2 AND p.ended_at IS NULL
		  AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.access_key_id = p.access_key_id AND cur.rule = p.rule)
		RETURNING p.access_key_id, p.rule, p.limit_days, p.started_at, p.ended_at
	), started AS (
		INSERT INTO policy_violations (region, tenant_id, access_key_id, rule, limit_days, started_at)
		SELECT $1, $2, access_key_id, rule, limit_days, $3 FROM cur
		ON CONFLICT (region, tenant_id, access_key_id, rule) WHERE ended_at IS NULL DO NOTHING
		RETURNING access_key_id, rule, limit_days, started_at, ended_at
	), ch AS (SELECT * FROM started UNION ALL SELECT * FROM ended)
	SELECT ch.access_key_id, ch.rule, ch.limit_days, ch.started_at, ch.ended_at, coalesce(s.tenant_name, ''),
		coalesce(r.owner_user_id, ''), coalesce(m.label, ''), s.as_of
	FROM ch
	LEFT JOIN credential_scans s ON s.region = $1 AND s.tenant_id = $2
	LEFT JOIN credential_report r ON r.region = $1 AND r.tenant_id = $2 AND r.access_key_id = ch.access_key_id
	LEFT JOIN key_metadata m ON m.region = $1 AND m.tenant_id = $2 AND m.access_key_id = ch.access_key_id
	ORDER BY ch.ended_at NULLS FIRST, ch.access_key_id, ch.rule`
	rows, err := q.db.Query(ctx, sql, region, tenantID, now)
	if err != nil {
		return nil, fmt.Errorf("sync the policy violations of %s/%s: %w", region, tenantID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ViolationChange, error) {
		c := ViolationChange{Violation: kp.Violation{Region: string(region), TenantID: tenantID}}
		err := r.Scan(&c.KeyID, &c.Rule, &c.LimitDays, &c.StartedAt, &c.EndedAt, &c.TenantName, &c.OwnerID, &c.Label, &c.AsOf)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("sync the policy violations of %s/%s: %w", region, tenantID, err)
	}
	return out, nil
}

// ScannedTenants returns every tenant Keyport has seen keys of.
func (q *Queries) ScannedTenants(ctx context.Context) ([][2]string, error) {
	rows, err := q.db.Query(ctx, `SELECT region, tenant_id FROM credential_scans ORDER BY region, tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("read the scanned tenants: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var t [2]string
		err := r.Scan(&t[0], &t[1])
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the scanned tenants: %w", err)
	}
	return out, nil
}

// OpenViolationCounts counts the open violations by tenant and rule, for
// /metrics.
func (q *Queries) OpenViolationCounts(ctx context.Context) (map[[2]string]int64, error) {
	rows, err := q.db.Query(ctx, `SELECT tenant_id, rule, count(*) FROM policy_violations WHERE ended_at IS NULL GROUP BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("count the policy violations: %w", err)
	}
	defer rows.Close()
	out := map[[2]string]int64{}
	for rows.Next() {
		var t, rule string
		var n int64
		if err := rows.Scan(&t, &rule, &n); err != nil {
			return nil, fmt.Errorf("count the policy violations: %w", err)
		}
		out[[2]string{t, rule}] = n
	}
	return out, rows.Err()
}

// KeyPolicyFacts is one key's notes with what its policy badges need.
type KeyPolicyFacts struct {
	Meta      kp.KeyMeta
	Policy    kp.Policy
	FirstSeen *time.Time
	AsOf      *time.Time
}

// KeyMetaWithPolicy reads Keyport's notes on one key (a zero KeyMeta when
// it has none), the tenant's policy, when Keyport first saw the key and
// last saw the tenant's list, in one statement (the key page's budget).
func (q *Queries) KeyMetaWithPolicy(ctx context.Context, region kp.Region, tenantID, keyID string) (KeyPolicyFacts, error) {
	sql := `WITH ` + policyCTE + `
	SELECT m.region, m.tenant_id, m.access_key_id, m.owner_user_id, m.label, m.created_by_user_id, m.created_by_name,
		m.created_at, m.secret_fingerprint, m.secret_last4, m.secret_lost, m.last_verified_at, m.last_verify_result,
		m.fingerprint_key_id, pol.max_age, pol.max_idle, pol.max_active, pol.label_required,
		(SELECT first_seen FROM credential_report WHERE region = $1 AND tenant_id = $2 AND access_key_id = $3),
		(SELECT as_of FROM credential_scans WHERE region = $1 AND tenant_id = $2)
	FROM pol LEFT JOIN key_metadata m ON m.region = $1 AND m.tenant_id = $2 AND m.access_key_id = $3`
	var f KeyPolicyFacts
	var (
		reg, ten, id, owner, label, byID, byName, fp, last4, result, fpKey *string
		lost                                                               *bool
	)
	m := &f.Meta
	err := q.db.QueryRow(ctx, sql, region, tenantID, keyID).Scan(&reg, &ten, &id, &owner, &label, &byID, &byName,
		&m.CreatedAt, &fp, &last4, &lost, &m.LastVerifiedAt, &result, &fpKey,
		&f.Policy.MaxAgeDays, &f.Policy.MaxIdleDays, &f.Policy.MaxActivePerUser, &f.Policy.LabelRequired, &f.FirstSeen, &f.AsOf)
	if err != nil {
		return f, fmt.Errorf("read key metadata: %w", err)
	}
	if id == nil {
		f.Meta = kp.KeyMeta{}
		return f, nil
	}
	m.Region, m.TenantID, m.AccessKeyID, m.OwnerUserID, m.Label = kp.Region(*reg), *ten, *id, *owner, *label
	m.CreatedByUserID, m.CreatedByName, m.SecretFingerprint, m.SecretLast4 = *byID, *byName, *fp, *last4
	m.SecretLost, m.LastVerifyResult, m.FingerprintKeyID = *lost, *result, *fpKey
	return f, nil
}

// OutsideKey is a key made outside Keyport, first seen now.
type OutsideKey struct {
	KeyID, OwnerID, TenantName string
}

// RecordOutsideKeys records the tenant's present keys that Keyport has no
// notes on (made outside it) and had not seen before, and returns them:
// each once, whichever instance records it. A key whose create through
// Keyport is still in flight (its notes not written yet) is left for later.
func (q *Queries) RecordOutsideKeys(ctx context.Context, region kp.Region, tenantID string, now time.Time) ([]OutsideKey, error) {
	const sql = `WITH new AS (
		INSERT INTO outside_keys_seen (region, tenant_id, access_key_id, seen_at)
		SELECT r.region, r.tenant_id, r.access_key_id, $3 FROM credential_report r
		WHERE r.region = $1 AND r.tenant_id = $2 AND r.gone_at IS NULL
		  AND NOT EXISTS (SELECT 1 FROM key_metadata m
			WHERE m.region = r.region AND m.tenant_id = r.tenant_id AND m.access_key_id = r.access_key_id)
		  AND NOT EXISTS (SELECT 1 FROM key_creates c WHERE c.region = r.region AND c.tenant_id = r.tenant_id
			AND c.state IN ('started', 'sending', 'unknown', 'ambiguous'))
		ON CONFLICT DO NOTHING
		RETURNING access_key_id
	)
	SELECT new.access_key_id, coalesce(r.owner_user_id, ''), coalesce(s.tenant_name, '')
	FROM new
	LEFT JOIN credential_report r ON r.region = $1 AND r.tenant_id = $2 AND r.access_key_id = new.access_key_id
	LEFT JOIN credential_scans s ON s.region = $1 AND s.tenant_id = $2
	ORDER BY new.access_key_id`
	rows, err := q.db.Query(ctx, sql, region, tenantID, now)
	if err != nil {
		return nil, fmt.Errorf("record keys made outside Keyport: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutsideKey, error) {
		var k OutsideKey
		err := r.Scan(&k.KeyID, &k.OwnerID, &k.TenantName)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("record keys made outside Keyport: %w", err)
	}
	return out, nil
}
