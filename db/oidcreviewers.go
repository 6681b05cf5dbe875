package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/kp"
)

// OIDCReviewer is a reviewer the identity provider vouched for.
type OIDCReviewer struct {
	ID          int64
	Issuer      string
	Subject     string
	Email       string
	Name        string
	Groups      []string // those that granted access at the last sign-in
	CreatedAt   time.Time
	LastLoginAt time.Time
}

const oidcReviewerColumns = `id, issuer, subject, email, name, groups, created_at, last_login_at`

func oidcReviewerTargets(r *OIDCReviewer) []any {
	return []any{&r.ID, &r.Issuer, &r.Subject, &r.Email, &r.Name, &r.Groups, &r.CreatedAt, &r.LastLoginAt}
}

// UpsertOIDCReviewer records a sign-in of (issuer, subject): the row is
// created on the first one and its email, name, groups and last sign-in are
// refreshed on each. It returns the row's id, which the session keeps.
func (q *Queries) UpsertOIDCReviewer(ctx context.Context, r *OIDCReviewer) (int64, error) {
	const sql = `INSERT INTO oidc_reviewers (issuer, subject, email, name, groups, created_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (issuer, subject) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name,
			groups = EXCLUDED.groups, last_login_at = EXCLUDED.last_login_at
		RETURNING id`
	var id int64
	if err := q.db.QueryRow(ctx, sql, r.Issuer, r.Subject, r.Email, r.Name, r.Groups, r.LastLoginAt).Scan(&id); err != nil {
		return 0, fmt.Errorf("record OIDC reviewer: %w", err)
	}
	return id, nil
}

// OIDCReviewerByID returns one OIDC reviewer, or kp.NotFound.
func (q *Queries) OIDCReviewerByID(ctx context.Context, id int64) (*OIDCReviewer, error) {
	const sql = `SELECT ` + oidcReviewerColumns + ` FROM oidc_reviewers WHERE id = $1`
	var r OIDCReviewer
	err := q.db.QueryRow(ctx, sql, id).Scan(oidcReviewerTargets(&r)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "There is no such reviewer.")
	}
	if err != nil {
		return nil, fmt.Errorf("read OIDC reviewer: %w", err)
	}
	return &r, nil
}

// ListOIDCReviewers returns every OIDC reviewer by issuer and email.
func (q *Queries) ListOIDCReviewers(ctx context.Context) ([]OIDCReviewer, error) {
	const sql = `SELECT ` + oidcReviewerColumns + ` FROM oidc_reviewers ORDER BY issuer, email, subject`
	rows, err := q.db.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("list OIDC reviewers: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (OIDCReviewer, error) {
		var r OIDCReviewer
		err := row.Scan(oidcReviewerTargets(&r)...)
		return r, err
	})
}
