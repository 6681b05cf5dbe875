package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyport/keyport/internal/kp"
)

// UserNames returns the latest display name Keyport has seen for each of
// ids in one tenant: the name in their token when they last connected
// (cxone_users; migration 010 filled it from the trail and the connections
// of before). A user who never connected has no name here. The map is keyed
// by the id in lower case, because CXone's ids compare case-insensitively.
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

// latestName is the name kept for the user id u.id in tenant $2 of region
// $1 (cxone_users, kept by UpsertConnection): one primary-key probe.
const latestName = `SELECT name FROM cxone_users WHERE region = $1 AND tenant_id = $2 AND user_key = lower(u.id)`
