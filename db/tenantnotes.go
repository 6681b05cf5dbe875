package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/kp"
)

// TenantNotes is everything Keyport keeps about one tenant's keys in one
// area that the keys page shows beside CXone's list.
type TenantNotes struct {
	Meta      map[string]kp.KeyMeta // by access key id
	Pending   []kp.CreateAttempt    // creates whose outcome is unknown, or whose sender died
	Ambiguous []kp.CreateAttempt    // creates after which several new keys appeared
	Rotations map[string]string     // old key id → its open rotation's id
	Names     map[string]string     // lower-case CXone user id → the latest name seen (see UserNames)
	// Policy is the key policy in force for the tenant; FirstSeen when
	// Keyport first saw each present key (a key's age when it was made
	// outside Keyport); AsOf when it last saw the tenant's whole list.
	Policy    kp.Policy
	FirstSeen map[string]time.Time
	AsOf      *time.Time
}

// TenantNotes reads a tenant's key metadata, open creates, open rotations
// and the names of userIDs and of the creates' owners in one statement:
// the keys page is the page admins load most (issue 14: four statements
// a view). Each part is a JSON aggregate of the same query its own
// function runs; the names follow UserNames.
func (q *Queries) TenantNotes(ctx context.Context, region kp.Region, tenantID string, userIDs []string) (*TenantNotes, error) {
	sql := `WITH creates AS (
		SELECT form_token AS "FormToken", region AS "Region", tenant_id AS "TenantID", owner_user_id AS "OwnerUserID",
			coalesce(connection_id::text, '') AS "ConnectionID", actor_user_id AS "ActorUserID", actor_name AS "ActorName",
			label AS "Label", state AS "State", audit_intent_id AS "AuditIntentID", access_key_id AS "AccessKeyID",
			before_ids AS "BeforeIDs", candidate_ids AS "CandidateIDs", message AS "Message",
			created_at AS "CreatedAt", updated_at AS "UpdatedAt", instance_key AS "InstanceKey"
		FROM key_creates
		WHERE region = $1 AND tenant_id = $2
		  AND (state IN ('unknown', 'ambiguous') OR state = 'sending' AND ` + instanceGone("instance_key") + `)
	), u AS (
		SELECT DISTINCT id FROM (SELECT unnest($3::text[]) AS id UNION ALL SELECT "OwnerUserID" FROM creates) i WHERE id <> ''
	), ` + policyCTE + `
	SELECT
		(SELECT coalesce(json_agg(m), '[]') FROM (
			SELECT region AS "Region", tenant_id AS "TenantID", access_key_id AS "AccessKeyID", owner_user_id AS "OwnerUserID",
				label AS "Label", created_by_user_id AS "CreatedByUserID", created_by_name AS "CreatedByName",
				created_at AS "CreatedAt", secret_fingerprint AS "SecretFingerprint", secret_last4 AS "SecretLast4",
				secret_lost AS "SecretLost", last_verified_at AS "LastVerifiedAt", last_verify_result AS "LastVerifyResult"
			FROM key_metadata WHERE region = $1 AND tenant_id = $2) m),
		(SELECT coalesce(json_agg(c ORDER BY c."CreatedAt"), '[]') FROM creates c),
		(SELECT coalesce(json_object_agg(old_key_id, id::text), '{}') FROM key_rotations
			WHERE region = $1 AND tenant_id = $2 AND step NOT IN ('done', 'abandoned')),
		(SELECT coalesce(json_object_agg(lower(u.id), n.name), '{}') FROM u CROSS JOIN LATERAL (` + latestName + `) n),
		(SELECT json_build_object('MaxAgeDays', max_age, 'MaxIdleDays', max_idle, 'MaxActivePerUser', max_active,
			'LabelRequired', label_required) FROM pol),
		(SELECT coalesce(json_object_agg(access_key_id, first_seen), '{}') FROM credential_report
			WHERE region = $1 AND tenant_id = $2 AND gone_at IS NULL),
		(SELECT as_of FROM credential_scans WHERE region = $1 AND tenant_id = $2)`
	var meta, creates, rotations, names, pol, seen []byte
	out := &TenantNotes{Meta: map[string]kp.KeyMeta{}}
	if err := q.db.QueryRow(ctx, sql, region, tenantID, userIDs).Scan(&meta, &creates, &rotations, &names, &pol, &seen, &out.AsOf); err != nil {
		return nil, fmt.Errorf("read the tenant's key notes: %w", err)
	}
	var all []kp.CreateAttempt
	var metaRows []kp.KeyMeta
	for _, part := range []struct {
		raw []byte
		dst any
	}{{meta, &metaRows}, {creates, &all}, {rotations, &out.Rotations}, {names, &out.Names}, {pol, &out.Policy}, {seen, &out.FirstSeen}} {
		if err := json.Unmarshal(part.raw, part.dst); err != nil {
			return nil, fmt.Errorf("decode the tenant's key notes: %w", err)
		}
	}
	for _, m := range metaRows {
		out.Meta[m.AccessKeyID] = m
	}
	for _, c := range all {
		if c.State == "ambiguous" {
			out.Ambiguous = append(out.Ambiguous, c)
		} else {
			out.Pending = append(out.Pending, c)
		}
	}
	lower := make(map[string]string, len(out.Names))
	for id, n := range out.Names {
		lower[strings.ToLower(id)] = n
	}
	out.Names = lower
	return out, nil
}
