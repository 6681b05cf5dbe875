package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/oidctest"
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

// passwordEvents lists the self-service changes in the trail as
// "outcome actor-kind message".
func passwordEvents(t *testing.T, a *testApp) []string {
	t.Helper()
	rows, err := a.Pool.Query(context.Background(), `SELECT outcome || ' ' || actor_kind || ' ' || coalesce(error_message, '')
		FROM audit_events WHERE action = 'auditor.reset_password' AND details->>'step' = 'self-service' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// ASVS 6.2.2, 6.2.3 (and 7.4.3, 7.5.1): a local reviewer changes their own
// password with the current one; the other sessions end, this one stays.
func TestReviewerChangesOwnPassword(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	b, other := a.browser(), a.browser()
	first := b.signInReviewer("alice")
	other.signInReviewer("alice")
	if first.Doc.Find(`[data-testid="account-link"][href="/reviewer/password"]`).Length() != 1 {
		t.Fatal("no Change password link on /audit")
	}
	form := b.get("/reviewer/password")
	if form.Status != http.StatusOK || form.Doc.Find(`[data-testid="password-form"]`).Length() != 1 {
		t.Fatalf("form: status %d: %s", form.Status, text(form))
	}
	const newPassword = "my own new reviewer password"
	for _, tc := range []struct {
		name                 string
		current, pw, confirm string
		status               int
	}{
		{"wrong current password", "not my password at all", newPassword, newPassword, http.StatusUnauthorized},
		{"repetition differs", reviewerPassword, newPassword, newPassword + "!", http.StatusUnprocessableEntity},
		{"too short", reviewerPassword, "short", "short", http.StatusUnprocessableEntity},
	} {
		p := b.post("/reviewer/password", url.Values{"current_password": {tc.current}, "new_password": {tc.pw}, "confirm_password": {tc.confirm}})
		if p.Status != tc.status || p.Doc.Find(`[data-testid="password-error"]`).Length() != 1 {
			t.Errorf("%s: status %d, want %d: %s", tc.name, p.Status, tc.status, text(p))
		}
		if strings.Contains(p.Body, tc.current) || strings.Contains(p.Body, newPassword) {
			t.Errorf("%s: a password is echoed in the page", tc.name)
		}
	}
	if signedOut(other) || signedOut(b) {
		t.Fatal("a refused change ended a session")
	}
	p := b.post("/reviewer/password", url.Values{"current_password": {reviewerPassword}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	if p.Status != http.StatusSeeOther || p.Location != "/audit" {
		t.Fatalf("change: status %d location %q: %s", p.Status, p.Location, text(p))
	}
	done := b.follow(p)
	if done.Status != http.StatusOK || !strings.Contains(text(done), "Your password is changed") {
		t.Fatalf("after the change: status %d: %s", done.Status, text(done))
	}
	if !signedOut(other) {
		t.Error("the reviewer's other session survived the change")
	}
	if signedOut(b) {
		t.Error("the session that changed the password was signed out")
	}
	fresh := a.browser()
	if p := fresh.post("/reviewer/login", url.Values{"username": {"alice"}, "password": {reviewerPassword}}); p.Status != http.StatusUnauthorized {
		t.Errorf("the old password: status %d", p.Status)
	}
	if p := fresh.post("/reviewer/login", url.Values{"username": {"alice"}, "password": {newPassword}}); p.Status != http.StatusSeeOther {
		t.Errorf("the new password: status %d: %s", p.Status, text(p))
	}
	want := []string{"failure auditor wrong current password", "intent auditor ", "success auditor "}
	if got := passwordEvents(t, a); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit events:\n got %q\nwant %q", got, want)
	}
	if ok, err := verifyTrail(a); !ok || err != nil {
		t.Errorf("trail verifies: %v, %v", ok, err)
	}
}

// A stolen session cannot guess the password faster than the sign-in page:
// wrong current passwords lock the name from that address, as failed
// sign-ins do, and the lock holds for the right one too.
func TestChangePasswordIsThrottledLikeSignIn(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	b := a.browser()
	b.signInReviewer("alice")
	wrong := url.Values{"current_password": {"not my password at all"}, "new_password": {"my own new reviewer password"}, "confirm_password": {"my own new reviewer password"}}
	var last *page
	for i := 0; i < 5; i++ {
		last = b.post("/reviewer/password", wrong)
	}
	if last.Status != http.StatusTooManyRequests || last.Doc.Find(`[data-testid="request-id"]`).Length() != 1 {
		t.Fatalf("the fifth wrong password: status %d: %s", last.Status, text(last))
	}
	right := url.Values{"current_password": {reviewerPassword}, "new_password": {"my own new reviewer password"}, "confirm_password": {"my own new reviewer password"}}
	if p := b.post("/reviewer/password", right); p.Status != http.StatusTooManyRequests {
		t.Fatalf("the right password while locked: status %d: %s", p.Status, text(p))
	}
	if p := a.browser().post("/reviewer/login", url.Values{"username": {"alice"}, "password": {reviewerPassword}}); p.Status != http.StatusTooManyRequests {
		t.Errorf("sign-in from the locked address: status %d", p.Status)
	}
	got := passwordEvents(t, a)
	if len(got) != 6 || got[4] != "failure auditor wrong current password" || !strings.HasPrefix(got[5], "denied auditor locked out") {
		t.Errorf("audit events: %q", got)
	}
}

// OIDC reviewers change their password at their identity provider: no link,
// and the page is not found.
func TestOIDCReviewerHasNoChangePassword(t *testing.T) {
	a, p := newOIDCApp(t, false)
	b := a.browser()
	back, _ := b.oidcSignIn(p, oidctest.Ada)
	page := b.follow(back)
	if link := page.Doc.Find(`[data-testid="account-link"][href="/reviewer/password"]`).Length(); page.Status != http.StatusOK || link != 0 {
		t.Fatalf("/audit for an OIDC reviewer: status %d, link %d", page.Status, link)
	}
	if got := b.get("/reviewer/password"); got.Status != http.StatusNotFound {
		t.Errorf("GET: status %d", got.Status)
	}
	if got := b.post("/reviewer/password", url.Values{"current_password": {"x"}, "new_password": {"y"}, "confirm_password": {"y"}}); got.Status != http.StatusNotFound {
		t.Errorf("POST: status %d", got.Status)
	}
}
