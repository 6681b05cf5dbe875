package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyport/keyport/internal/kp"
)

const keyMetaColumns = `region, tenant_id, access_key_id, owner_user_id, label, created_by_user_id, created_by_name,
	created_at, secret_fingerprint, secret_last4, secret_lost, last_verified_at, last_verify_result, fingerprint_key_id`

func scanKeyMeta(row pgx.Row) (kp.KeyMeta, error) {
	var m kp.KeyMeta
	err := row.Scan(&m.Region, &m.TenantID, &m.AccessKeyID, &m.OwnerUserID, &m.Label, &m.CreatedByUserID,
		&m.CreatedByName, &m.CreatedAt, &m.SecretFingerprint, &m.SecretLast4, &m.SecretLost, &m.LastVerifiedAt,
		&m.LastVerifyResult, &m.FingerprintKeyID)
	return m, err
}

// TenantKeyMeta returns Keyport's notes on one tenant's keys in one region.
// Every read of key metadata filters by region and tenant: that is the
// tenancy boundary.
func (q *Queries) TenantKeyMeta(ctx context.Context, region kp.Region, tenantID string) (map[string]kp.KeyMeta, error) {
	const sql = `SELECT ` + keyMetaColumns + ` FROM key_metadata WHERE region = $1 AND tenant_id = $2`
	rows, err := q.db.Query(ctx, sql, region, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list key metadata: %w", err)
	}
	defer rows.Close()
	out := map[string]kp.KeyMeta{}
	for rows.Next() {
		m, err := scanKeyMeta(rows)
		if err != nil {
			return nil, fmt.Errorf("read key metadata: %w", err)
		}
		out[m.AccessKeyID] = m
	}
	return out, rows.Err()
}

// KeyMeta returns Keyport's notes on one of a tenant's keys, or the zero
// KeyMeta when it has none (a key made outside Keyport). Like every read of
// key metadata it is scoped by region and tenant.
func (q *Queries) KeyMeta(ctx context.Context, region kp.Region, tenantID, keyID string) (kp.KeyMeta, error) {
	const sql = `SELECT ` + keyMetaColumns + ` FROM key_metadata WHERE region = $1 AND tenant_id = $2 AND access_key_id = $3`
	m, err := scanKeyMeta(q.db.QueryRow(ctx, sql, region, tenantID, keyID))
	if errors.Is(err, pgx.ErrNoRows) {
		return kp.KeyMeta{}, nil
	}
	if err != nil {
		return kp.KeyMeta{}, fmt.Errorf("read key metadata: %w", err)
	}
	return m, nil
}

// KeyMetaByFingerprint finds the tenant's key whose secret has one of the
// fingerprints fps (a secret's fingerprint under each audit key of the ring).
func (q *Queries) KeyMetaByFingerprint(ctx context.Context, region kp.Region, tenantID string, fps []string) (*kp.KeyMeta, error) {
	const sql = `SELECT ` + keyMetaColumns + ` FROM key_metadata WHERE region = $1 AND tenant_id = $2 AND secret_fingerprint = ANY($3)
		ORDER BY access_key_id LIMIT 1`
	m, err := scanKeyMeta(q.db.QueryRow(ctx, sql, region, tenantID, fps))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up fingerprint: %w", err)
	}
	return &m, nil
}

// InsertKeyMeta records a key Keyport created (or learnt of by reconciling).
func (q *Queries) InsertKeyMeta(ctx context.Context, m kp.KeyMeta) error {
	const sql = `INSERT INTO key_metadata (` + keyMetaColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (region, tenant_id, access_key_id) DO UPDATE SET owner_user_id = EXCLUDED.owner_user_id,
			label = EXCLUDED.label, created_by_user_id = EXCLUDED.created_by_user_id, created_by_name = EXCLUDED.created_by_name,
			created_at = EXCLUDED.created_at, secret_fingerprint = EXCLUDED.secret_fingerprint,
			secret_last4 = EXCLUDED.secret_last4, secret_lost = EXCLUDED.secret_lost, fingerprint_key_id = EXCLUDED.fingerprint_key_id`
	_, err := q.db.Exec(ctx, sql, m.Region, m.TenantID, m.AccessKeyID, m.OwnerUserID, m.Label, m.CreatedByUserID,
		m.CreatedByName, m.CreatedAt, m.SecretFingerprint, m.SecretLast4, m.SecretLost, m.LastVerifiedAt, m.LastVerifyResult,
		m.FingerprintKeyID)
	if err != nil {
		return fmt.Errorf("store key metadata: %w", err)
	}
	return nil
}

// RecordVerification notes a verification's time and result on a key.
func (q *Queries) RecordVerification(ctx context.Context, region kp.Region, tenantID, keyID, owner string, at time.Time, result string) error {
	const sql = `INSERT INTO key_metadata (region, tenant_id, access_key_id, owner_user_id, last_verified_at, last_verify_result)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (region, tenant_id, access_key_id) DO UPDATE SET last_verified_at = $5, last_verify_result = $6`
	if _, err := q.db.Exec(ctx, sql, region, tenantID, keyID, owner, at, result); err != nil {
		return fmt.Errorf("record verification: %w", err)
	}
	return nil
}

const keyCreateColumns = `form_token, region, tenant_id, owner_user_id, coalesce(connection_id::text, ''), actor_user_id,
	actor_name, label, state, audit_intent_id, access_key_id, before_ids, candidate_ids, message, created_at, updated_at`

func scanKeyCreate(row pgx.Row) (*kp.CreateAttempt, error) {
	var k kp.CreateAttempt
	err := row.Scan(&k.FormToken, &k.Region, &k.TenantID, &k.OwnerUserID, &k.ConnectionID, &k.ActorUserID, &k.ActorName,
		&k.Label, &k.State, &k.AuditIntentID, &k.AccessKeyID, &k.BeforeIDs, &k.CandidateIDs, &k.Message, &k.CreatedAt, &k.UpdatedAt)
	return &k, err
}

// ClaimKeyCreate records a create form's one-time token. A token already
// used is kp.Conflict, and the earlier submission is returned with it.
func (q *Queries) ClaimKeyCreate(ctx context.Context, k *kp.CreateAttempt) (*kp.CreateAttempt, error) {
	const sql = `INSERT INTO key_creates (form_token, region, tenant_id, owner_user_id, connection_id, actor_user_id,
			actor_name, label, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, NULLIF($5, '')::uuid, $6, $7, $8, 'started', $9, $9)`
	_, err := q.db.Exec(ctx, sql, k.FormToken, k.Region, k.TenantID, k.OwnerUserID, k.ConnectionID, k.ActorUserID,
		k.ActorName, k.Label, k.CreatedAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		prev, gerr := q.KeyCreate(ctx, k.FormToken)
		if gerr != nil {
			return nil, gerr
		}
		return prev, kp.Errorf(kp.Conflict, "This form was already submitted, so no second key was created.")
	}
	if err != nil {
		return nil, fmt.Errorf("claim create form: %w", err)
	}
	return nil, nil
}

// kp.CreateAttempt returns one create submission by its form token.
func (q *Queries) KeyCreate(ctx context.Context, token string) (*kp.CreateAttempt, error) {
	k, err := scanKeyCreate(q.db.QueryRow(ctx, `SELECT `+keyCreateColumns+` FROM key_creates WHERE form_token = $1`, token))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "No such key creation.")
	}
	if err != nil {
		return nil, fmt.Errorf("read create: %w", err)
	}
	return k, nil
}

// UpdateKeyCreate stores a submission's progress.
func (q *Queries) UpdateKeyCreate(ctx context.Context, k *kp.CreateAttempt) error {
	const sql = `UPDATE key_creates SET state = $2, audit_intent_id = $3, access_key_id = $4,
		before_ids = coalesce($5::text[], '{}'), candidate_ids = coalesce($6::text[], '{}'), message = $7, updated_at = $8,
		instance_key = $9
		WHERE form_token = $1`
	if _, err := q.db.Exec(ctx, sql, k.FormToken, k.State, k.AuditIntentID, k.AccessKeyID, k.BeforeIDs,
		k.CandidateIDs, k.Message, k.UpdatedAt, k.InstanceKey); err != nil {
		return fmt.Errorf("update create: %w", err)
	}
	return nil
}

// PendingKeyCreates returns a tenant's creates whose outcome is unknown:
// the ones whose answer was lost, and the ones whose sending process died
// before it heard (state 'sending', instance lock gone). With tenantID ""
// it returns every tenant's (for `keyport reconcile`).
func (q *Queries) PendingKeyCreates(ctx context.Context, region kp.Region, tenantID string) ([]kp.CreateAttempt, error) {
	return q.keyCreates(ctx, `(state = 'unknown' OR state = 'sending' AND `+instanceGone("instance_key")+`)`, region, tenantID)
}

func (q *Queries) keyCreates(ctx context.Context, where string, region kp.Region, tenantID string) ([]kp.CreateAttempt, error) {
	sql := `SELECT ` + keyCreateColumns + ` FROM key_creates WHERE ` + where
	args := []any{}
	if tenantID != "" {
		sql += ` AND region = $1 AND tenant_id = $2`
		args = append(args, region, tenantID)
	}
	rows, err := q.db.Query(ctx, sql+` ORDER BY created_at`, args...)
	if err != nil {
		return nil, fmt.Errorf("list pending creates: %w", err)
	}
	defer rows.Close()
	var out []kp.CreateAttempt
	for rows.Next() {
		k, err := scanKeyCreate(rows)
		if err != nil {
			return nil, fmt.Errorf("read pending create: %w", err)
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

const rotationColumns = `id::text, region, tenant_id, old_key_id, new_key_id, step, created_by_user_id, created_at, updated_at`

func scanRotation(row pgx.Row) (*kp.Rotation, error) {
	var r kp.Rotation
	err := row.Scan(&r.ID, &r.Region, &r.TenantID, &r.OldKeyID, &r.NewKeyID, &r.Step, &r.CreatedByUserID, &r.CreatedAt, &r.UpdatedAt)
	return &r, err
}

// OpenRotation returns the tenant's unfinished rotation of oldKeyID, or nil.
func (q *Queries) OpenRotation(ctx context.Context, region kp.Region, tenantID, oldKeyID string) (*kp.Rotation, error) {
	const sql = `SELECT ` + rotationColumns + ` FROM key_rotations
		WHERE region = $1 AND tenant_id = $2 AND old_key_id = $3 AND step NOT IN ('done', 'abandoned')`
	r, err := scanRotation(q.db.QueryRow(ctx, sql, region, tenantID, oldKeyID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read rotation: %w", err)
	}
	return r, nil
}

// InsertRotation starts a rotation.
func (q *Queries) InsertRotation(ctx context.Context, r *kp.Rotation) error {
	const sql = `INSERT INTO key_rotations (id, region, tenant_id, old_key_id, new_key_id, step, created_by_user_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`
	_, err := q.db.Exec(ctx, sql, r.ID, r.Region, r.TenantID, r.OldKeyID, r.NewKeyID, r.Step, r.CreatedByUserID, r.CreatedAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return kp.Errorf(kp.Conflict, "A rotation of this key is already in progress.")
	}
	if err != nil {
		return fmt.Errorf("start rotation: %w", err)
	}
	return nil
}

// UpdateRotationStep moves a rotation to step.
func (q *Queries) UpdateRotationStep(ctx context.Context, id, step string, at time.Time) error {
	if _, err := q.db.Exec(ctx, `UPDATE key_rotations SET step = $2, updated_at = $3 WHERE id::text = $1`, id, step, at); err != nil {
		return fmt.Errorf("update rotation: %w", err)
	}
	return nil
}

// RotationByID returns one of a tenant's rotations.
func (q *Queries) RotationByID(ctx context.Context, region kp.Region, tenantID, id string) (*kp.Rotation, error) {
	const sql = `SELECT ` + rotationColumns + ` FROM key_rotations WHERE region = $1 AND tenant_id = $2 AND id::text = $3`
	r, err := scanRotation(q.db.QueryRow(ctx, sql, region, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "There is no such rotation in this tenant.")
	}
	if err != nil {
		return nil, fmt.Errorf("read rotation: %w", err)
	}
	return r, nil
}

// OpenRotations maps a tenant's keys under rotation to their rotation ids.
func (q *Queries) OpenRotations(ctx context.Context, region kp.Region, tenantID string) (map[string]string, error) {
	const sql = `SELECT old_key_id, id::text FROM key_rotations WHERE region = $1 AND tenant_id = $2 AND step NOT IN ('done', 'abandoned')`
	rows, err := q.db.Query(ctx, sql, region, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list rotations: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			return nil, fmt.Errorf("read rotation: %w", err)
		}
		out[k] = id
	}
	return out, rows.Err()
}
