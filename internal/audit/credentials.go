package audit

import (
	"context"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// CredentialBatch is how many report rows one query reads.
const CredentialBatch = 1000

// Credentials records the reviewer's view (or download, format "csv") of
// the credential report with its filters, then calls fn for every row
// matching f, by area, tenant and key.
func (r *Reader) Credentials(ctx context.Context, who Reviewer, f kp.CredentialFilter, filters map[string]string, format string, fn func(*kp.Credential) error) error {
	action := kp.AuditView
	if format != "html" {
		action = kp.AuditExport
	}
	if filters == nil {
		filters = map[string]string{}
	}
	filters["page"] = "credentials"
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, action, filters, format); err != nil {
		return err
	}
	return db.New(r.readPool(ctx)).ScanCredentials(ctx, f, CredentialBatch, fn)
}
