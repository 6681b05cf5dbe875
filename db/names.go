package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyport/keyport/internal/kp"
)

// UserNames returns the latest display name Keyport has seen for each of
// ids in one tenant: from the tenant's audit trail (every admin action
// records its actor's name from their token) and from live connections. A
// user who never connected has no name here. The map is keyed by the id in
// lower case, because CXone's ids compare case-insensitively.
//
// The lateral lookups ride audit_events_actor (actor_user_id, id DESC), so
// the cost is one short index scan per id, not a pass over the trail; the
// id is matched as given and in either case to stay index-friendly.
func (q *Queries) UserNames(ctx context.Context, region kp.Region, tenantID string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	const sql = `SELECT u.id, n.name FROM unnest($3::text[]) AS u(id) CROSS JOIN LATERAL (` + latestName + `) n`
	rows, err := q.db.Query(ctx, sql, region, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("read user names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("read user name: %w", err)
		}
		out[strings.ToLower(id)] = name
	}
	return out, rows.Err()
}

// latestName is the latest display name seen for the user id u.id in
// tenant $2 of region $1: from the trail (every admin
// action records its actor's name from their token) or from a connection.
// Both lookups ride an index (audit_events_actor; connections by session).
const latestName = `SELECT name FROM (
		(SELECT actor_name AS name, occurred_at AS seen FROM audit_events
		  WHERE actor_user_id = ANY (ARRAY[u.id, lower(u.id), upper(u.id)])
		    AND tenant_id = $2 AND region = $1 AND actor_kind = 'admin'
		    AND actor_name <> '' AND actor_name <> actor_user_id
		  ORDER BY id DESC LIMIT 1)
		UNION ALL
		(SELECT user_name, created_at FROM connections
		  WHERE lower(user_id) = lower(u.id) AND tenant_id = $2 AND region = $1
		    AND user_name <> '' AND user_name <> user_id
		  ORDER BY created_at DESC LIMIT 1)
	) seen ORDER BY seen DESC LIMIT 1`
