package keys

import (
	"context"
	"strings"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/connection"
)

// UserNames names the users ids of the connection's tenant, as far as
// Keyport knows them: CXone's key API returns bare user ids, so the only
// names Keyport has are the ones in the tokens of users who connected
// (kept in the audit trail and the connections). The result is keyed by
// the id in lower case; an id Keyport cannot name is absent. Names are a
// courtesy: when they cannot be read the page still shows the ids, so a
// failure is logged, not returned.
func (s *Service) UserNames(ctx context.Context, conn *connection.Connection, ids []string) map[string]string {
	names, err := db.New(s.pool).UserNames(ctx, conn.Region, conn.TenantID, uniqueIDs(ids))
	if err != nil {
		s.log.WarnContext(ctx, "read user names", "err", err)
		names = map[string]string{}
	}
	if conn.UserName != "" && conn.UserName != conn.UserID {
		names[strings.ToLower(conn.UserID)] = conn.UserName // the freshest: this very token
	}
	return names
}

func uniqueIDs(ids []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if l := strings.ToLower(id); id != "" && !seen[l] {
			seen[l] = true
			out = append(out, id)
		}
	}
	return out
}
