package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
)

// MonthsAhead is how many months after the current one the portal keeps
// created: appends never wait for a partition to be made, even across a
// month boundary while the portal was down for weeks.
const MonthsAhead = 2

// EnsurePartitions creates the current month's partition of audit_events
// and MonthsAhead after it, if missing. The portal runs it at start and
// daily; audit_append makes a missing month itself as a last resort.
func EnsurePartitions(ctx context.Context, pool *pgxpool.Pool, now time.Time) error {
	now = now.UTC()
	if err := db.New(pool).EnsureAuditPartitions(ctx, now, now.AddDate(0, MonthsAhead, 0)); err != nil {
		return fmt.Errorf("audit partitions: %w", err)
	}
	return nil
}
