package reviewer

import (
	"cmp"
	"context"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// OIDCReviewer is a person the identity provider vouched for (issue 16):
// the identity of a verified ID token, with the reviewer groups that
// granted access in Identity.Groups. Package oidc checks the token; this
// records the sign-in.
type OIDCReviewer struct {
	Identity audit.Identity
	Name     string
}

// oidcActor is how an OIDC reviewer appears in the trail: by email (what
// people recognise), else by subject; the identity details carry both.
func oidcActor(id audit.Identity, name string) audit.Actor {
	user := cmp.Or(id.Email, id.Subject)
	return audit.Actor{Kind: kp.ActorReviewer, UserID: user, Name: cmp.Or(name, user)}
}

// SignInOIDC records a verified, granted sign-in: the reviewer's row
// (created on the first sign-in) and an auditor.login success with the
// issuer, subject, email and granting groups. It returns the row's id for
// the session and the name to show.
func (s *Service) SignInOIDC(ctx context.Context, r OIDCReviewer, scope audit.Scope) (int64, string, error) {
	now := s.o.Now()
	id, err := db.New(s.pool).UpsertOIDCReviewer(ctx, &db.OIDCReviewer{Issuer: r.Identity.Issuer, Subject: r.Identity.Subject,
		Email: r.Identity.Email, Name: r.Name, Groups: r.Identity.Groups, CreatedAt: now, LastLoginAt: now})
	if err != nil {
		return 0, "", err
	}
	actor := oidcActor(r.Identity, r.Name)
	ident := r.Identity
	err = s.w.Record(ctx, audit.Event{Actor: actor, Scope: scope, Action: kp.ReviewerLogin,
		Details: audit.Details{Step: "oidc", Identity: &ident}}, audit.Result{Outcome: kp.OutcomeSuccess})
	return id, actor.UserID, err
}

// RefuseOIDC records a refused OIDC sign-in: denied for a person outside
// the reviewer groups, failure for anything else (a bad or replayed
// state, a token that failed a check). id is what is known of the person
// (possibly nothing); reason never carries a token.
func (s *Service) RefuseOIDC(ctx context.Context, id audit.Identity, name string, denied bool, reason string, scope audit.Scope) error {
	outcome := kp.OutcomeFailure
	if denied {
		outcome = kp.OutcomeDenied
	}
	actor := oidcActor(id, name)
	if actor.UserID == "" {
		actor.UserID, actor.Name = "unknown", "unknown"
	}
	ident := id
	return s.w.Record(ctx, audit.Event{Actor: actor, Scope: scope, Action: kp.ReviewerLogin,
		Details: audit.Details{Step: "oidc", Identity: &ident}}, audit.Result{Outcome: outcome, Message: reason})
}

// RequireActiveOIDC returns the display name of the OIDC reviewer whose
// session names row id, when that reviewer signed in with issuer (the one
// configured now): a changed or removed provider ends their sessions.
func (s *Service) RequireActiveOIDC(ctx context.Context, id int64, issuer string) (string, error) {
	r, err := db.New(s.pool).OIDCReviewerByID(ctx, id)
	if kp.KindOf(err) == kp.NotFound || err == nil && (issuer == "" || r.Issuer != issuer) {
		return "", kp.Errorf(kp.Unauthorized, "This reviewer is not active.")
	}
	if err != nil {
		return "", err
	}
	return cmp.Or(r.Email, r.Subject), nil
}

// LogoutOIDC records an OIDC reviewer's sign-out, with their identity.
func (s *Service) LogoutOIDC(ctx context.Context, id int64, scope audit.Scope) error {
	r, err := db.New(s.pool).OIDCReviewerByID(ctx, id)
	if err != nil {
		return err
	}
	ident := audit.Identity{Issuer: r.Issuer, Subject: r.Subject, Email: r.Email, Groups: r.Groups}
	return s.w.Record(ctx, audit.Event{Actor: oidcActor(ident, r.Name), Scope: scope, Action: kp.ReviewerLogout,
		Details: audit.Details{Step: "oidc", Identity: &ident}}, audit.Result{Outcome: kp.OutcomeSuccess})
}

// listOIDC adds the OIDC reviewers to an account list, with their source.
func (s *Service) listOIDC(ctx context.Context, out []Account) ([]Account, error) {
	rows, err := db.New(s.pool).ListOIDCReviewers(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		last := r.LastLoginAt
		out = append(out, Account{Username: cmp.Or(r.Email, r.Subject), Source: "oidc " + r.Issuer, Subject: r.Subject,
			CreatedAt: r.CreatedAt, LastLoginAt: &last})
	}
	return out, nil
}

// ErrLocalOff answers a local sign-in when KEYPORT_LOCAL_REVIEWERS=off.
var ErrLocalOff = kp.Errorf(kp.Unauthorized, "Local reviewer accounts are turned off here: sign in with your company's identity provider.")

// refuseLocal records a local sign-in attempted while local accounts are off.
func (s *Service) refuseLocal(ctx context.Context, at Attempt) error {
	name := NormalizeUsername(at.Username)
	if len(name) > 64 {
		name = name[:64]
	}
	actor := audit.Actor{Kind: kp.ActorReviewer, UserID: name, Name: name}
	if err := s.record(ctx, actor, at.Scope, kp.OutcomeDenied, "local reviewer accounts are off"); err != nil {
		return err
	}
	return ErrLocalOff
}

// LocalOn reports whether local accounts may sign in.
func (s *Service) LocalOn() bool { return !s.o.LocalOff }
