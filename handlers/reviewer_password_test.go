package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
)

// signedOut reports whether b's next /audit request is sent to sign in.
func signedOut(b *browser) bool {
	b.t.Helper()
	p := b.get("/audit")
	return p.Status == http.StatusSeeOther && p.Location == "/reviewer/login"
}

// ASVS 7.4.3: an operator's password reset ends every session of that
// reviewer at its next request; the new password then works.
func TestResetPasswordEndsEveryReviewerSession(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	addReviewer(t, a, "bob")
	one, two, other := a.browser(), a.browser(), a.browser()
	one.signInReviewer("alice")
	two.signInReviewer("alice")
	other.signInReviewer("bob")
	if signedOut(one) || signedOut(two) {
		t.Fatal("a fresh session is already signed out")
	}
	const newPassword = "a brand new reviewer password"
	if _, err := reviewers(a).ResetPassword(context.Background(), audit.Actor{Kind: kp.ActorSystem, UserID: "test"}, "alice",
		secret.New(newPassword), reviewer.TOTPKeep); err != nil {
		t.Fatal(err)
	}
	for i, b := range []*browser{one, two} {
		if !signedOut(b) {
			t.Errorf("browser %d: still signed in after the password reset", i+1)
		}
	}
	if signedOut(other) {
		t.Error("another reviewer's session ended too")
	}
	if p := one.post("/reviewer/login", url.Values{"username": {"alice"}, "password": {reviewerPassword}}); p.Status != http.StatusUnauthorized {
		t.Errorf("the old password: status %d", p.Status)
	}
	p := one.post("/reviewer/login", url.Values{"username": {"alice"}, "password": {newPassword}})
	if p.Status != http.StatusSeeOther || p.Location != "/audit" {
		t.Fatalf("the new password: status %d location %q: %s", p.Status, p.Location, text(p))
	}
	if signedOut(one) {
		t.Error("signed out right after signing in with the new password")
	}
}
