package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
)

const reviewerPassword = "correct horse battery staple"

// reviewers manages accounts directly, as `keyport auditor` does, with cheap
// argon2 parameters (each hash encodes its own parameters).
func reviewers(a *testApp) *reviewer.Service {
	return reviewer.New(a.Pool, a.App.Audit, nil, reviewer.Options{Params: reviewer.Params{Memory: 64, Time: 1, Threads: 1}})
}

func addReviewer(t *testing.T, a *testApp, name string) {
	t.Helper()
	if _, err := reviewers(a).Add(context.Background(), audit.Actor{Kind: kp.ActorSystem, UserID: "test"}, name, secret.New(reviewerPassword), false); err != nil {
		t.Fatal(err)
	}
}

// signInReviewer signs b in and returns the first /audit page.
func (b *browser) signInReviewer(name string) *page {
	b.t.Helper()
	p := b.post("/auditor/login", url.Values{"username": {name}, "password": {reviewerPassword}})
	if p.Status != http.StatusSeeOther || p.Location != "/audit" {
		b.t.Fatalf("sign-in: status %d location %q: %s", p.Status, p.Location, text(p))
	}
	return b.follow(p)
}

func TestReviewerSignInAnswersEveryFailureAlike(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	addReviewer(t, a, "dora")
	if err := reviewers(a).SetDisabled(context.Background(), audit.Actor{Kind: kp.ActorSystem}, "dora", true); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	form := b.get("/auditor/login")
	if form.Doc.Find(`[data-testid="login-form"]`).Length() != 1 {
		t.Fatalf("no login form: %s", text(form))
	}
	var messages []string
	for _, tc := range []struct{ name, user, pw string }{
		{"wrong password", "alice", "not the password at all"},
		{"unknown user", "mallory", reviewerPassword},
		{"disabled account", "dora", reviewerPassword},
	} {
		p := b.post("/auditor/login", url.Values{"username": {tc.user}, "password": {tc.pw}, "totp": {"123456"}})
		msg := strings.TrimSpace(p.Doc.Find(`[data-testid="login-error"]`).Text())
		if p.Status != http.StatusUnauthorized || msg == "" {
			t.Fatalf("%s: status %d, message %q", tc.name, p.Status, msg)
		}
		if v, _ := p.Doc.Find(`[data-testid="login-username"]`).Attr("value"); v != tc.user {
			t.Errorf("%s: username not kept: %q", tc.name, v)
		}
		if strings.Contains(p.Body, tc.pw) {
			t.Errorf("%s: the password was echoed", tc.name)
		}
		messages = append(messages, msg)
	}
	for _, m := range messages[1:] {
		if m != messages[0] {
			t.Fatalf("messages differ: %q", messages)
		}
	}
	first := b.signInReviewer("Alice")
	if got := first.Doc.Find(`[data-testid="identity"]`).Text(); !strings.Contains(got, "reviewer alice") {
		t.Fatalf("identity %q", got)
	}
	// Sign out kills the session: the old cookie no longer opens /audit.
	cookies := b.http.Jar.Cookies(mustURL(t, a.URL))
	out := b.post("/auditor/logout", nil)
	if out.Status != http.StatusSeeOther || out.Location != "/reviewer/login" {
		t.Fatalf("logout: %d %q", out.Status, out.Location)
	}
	replay := a.browser()
	replay.http.Jar.SetCookies(mustURL(t, a.URL), cookies)
	if p := replay.get("/audit"); p.Status != http.StatusSeeOther || p.Location != "/reviewer/login" {
		t.Fatalf("replayed cookie after logout: %d %q", p.Status, p.Location)
	}
	var logins, logouts int
	_ = a.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE action = 'auditor.login'), count(*) FILTER (WHERE action = 'auditor.logout') FROM audit_events`).Scan(&logins, &logouts)
	if logins != 4 || logouts != 1 {
		t.Fatalf("login events %d, logout events %d; want 4 and 1", logins, logouts)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestReviewerLockOutEngagesAndLifts(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	b := a.browser()
	for i := 1; i <= 4; i++ {
		if p := b.post("/auditor/login", url.Values{"username": {"alice"}, "password": {"wrong password " + strconv.Itoa(i)}}); p.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i, p.Status)
		}
	}
	p := b.post("/auditor/login", url.Values{"username": {"alice"}, "password": {"wrong password 5"}})
	if p.Status != http.StatusTooManyRequests {
		t.Fatalf("fifth failure: status %d, want 429: %s", p.Status, text(p))
	}
	if p := b.post("/auditor/login", url.Values{"username": {"alice"}, "password": {reviewerPassword}}); p.Status != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: status %d, want 429", p.Status)
	}
	// The lock's time passes (the service's clock is tested in package
	// reviewer; here the stored deadline moves into the past).
	if _, err := a.Pool.Exec(context.Background(), `UPDATE reviewer_throttle SET locked_until = now() - interval '1 second', window_start = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	b.signInReviewer("alice")
}

func TestReviewerAndAdminSessionsAreSeparate(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	rev := a.browser()
	rev.signInReviewer("alice")
	for _, path := range []string{"/keys", "/keys/activity", "/keys/lookup"} {
		p := rev.get(path)
		if p.Status == http.StatusOK || p.Doc.Find(`[data-testid="key-row"], [data-testid="create-form"]`).Length() > 0 {
			t.Errorf("reviewer reached admin page %s: %d", path, p.Status)
		}
	}
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	adm := a.browser()
	adm.connect("na1", ten.ID, admin.ID)
	if p := adm.get("/keys"); p.Status != http.StatusOK {
		t.Fatalf("admin keys page: %d", p.Status)
	}
	for _, path := range []string{"/audit", "/audit/1", "/audit/integrity", "/audit/activity", "/audit/export.csv", "/audit/keys/x"} {
		if p := adm.get(path); p.Status != http.StatusSeeOther || p.Location != "/reviewer/login" {
			t.Errorf("admin GET %s: %d %q, want 303 to /reviewer/login", path, p.Status, p.Location)
		}
	}
	if p := adm.post("/audit/integrity/verify", nil); p.Status != http.StatusSeeOther || p.Location != "/reviewer/login" {
		t.Errorf("admin POST verify: %d %q", p.Status, p.Location)
	}
}

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
