package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

// Sign-in and sign-out live under /reviewer; the role's old addresses under
// /auditor stay as aliases of the same handlers, and pages send reviewers
// to the new ones whichever address they came through.
func TestReviewerRoutesAndTheirAuditorAliasesSignInAndOut(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	for _, tc := range []struct{ name, base string }{
		{"the /reviewer routes sign in and out", "/reviewer"},
		{"the old /auditor aliases still sign in and out", "/auditor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := a.browser()
			if p := b.get("/audit"); p.Status != http.StatusSeeOther || p.Location != "/reviewer/login" {
				t.Fatalf("signed out, GET /audit: %d %q, want 303 to /reviewer/login", p.Status, p.Location)
			}
			form := b.get(tc.base + "/login")
			if action, _ := form.Doc.Find(`[data-testid="login-form"]`).Attr("action"); form.Status != http.StatusOK || action != "/reviewer/login" {
				t.Fatalf("GET %s/login: %d, form posts to %q; want 200 and /reviewer/login", tc.base, form.Status, action)
			}
			in := b.post(tc.base+"/login", url.Values{"username": {"alice"}, "password": {reviewerPassword}})
			if in.Status != http.StatusSeeOther || in.Location != "/audit" {
				t.Fatalf("POST %s/login: %d %q, want 303 to /audit: %s", tc.base, in.Status, in.Location, text(in))
			}
			list := b.follow(in)
			if got, _ := list.Doc.Find(`[data-testid="sign-out"]`).Closest("form").Attr("action"); got != "/reviewer/logout" {
				t.Fatalf("the sign-out form posts to %q, want /reviewer/logout", got)
			}
			out := b.post(tc.base+"/logout", nil)
			if out.Status != http.StatusSeeOther || out.Location != "/reviewer/login" {
				t.Fatalf("POST %s/logout: %d %q, want 303 to /reviewer/login", tc.base, out.Status, out.Location)
			}
			if p := b.get("/audit"); p.Status != http.StatusSeeOther || p.Location != "/reviewer/login" {
				t.Fatalf("after POST %s/logout, GET /audit: %d %q, want 303 to /reviewer/login", tc.base, p.Status, p.Location)
			}
		})
	}
	// Whichever address was used, the trail has each sign-in and sign-out.
	var logins, logouts int
	err := a.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE action = 'auditor.login' AND outcome = 'success'),
		count(*) FILTER (WHERE action = 'auditor.logout') FROM audit_events`).Scan(&logins, &logouts)
	if err != nil || logins != 2 || logouts != 2 {
		t.Fatalf("sign-in events %d, sign-out events %d (%v); want 2 and 2", logins, logouts, err)
	}
}
