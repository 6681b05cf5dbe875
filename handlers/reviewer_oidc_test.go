package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/oidctest"
	"github.com/keyport/keyport/internal/secret"
)

// lateHandler serves a handler set after its server started, so the
// portal's address (its OIDC redirect URL) is known before the portal is built.
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*l.h.Load()).ServeHTTP(w, r)
}

// newOIDCApp builds the portal with OIDC sign-in at an in-process zitadel
// provider whose reviewer group is oidctest.ReviewerGroup.
func newOIDCApp(t *testing.T, downAtStart bool, mutate ...func(*testSetup)) (*testApp, *oidctest.Provider) {
	t.Helper()
	late := &lateHandler{}
	srv := httptest.NewServer(late)
	t.Cleanup(srv.Close)
	p := oidctest.Start(t, srv.URL+"/reviewer/oidc/callback", srv.URL+"/reviewer/login")
	p.SetDown(downAtStart)
	a := newTestApp(t, append([]func(*testSetup){func(s *testSetup) {
		s.Config.OIDC = config.OIDC{Issuer: p.Issuer, ClientID: oidctest.ClientID, ClientSecret: secret.New(oidctest.ClientSecret),
			RedirectURL: srv.URL + "/reviewer/oidc/callback", Scopes: []string{"openid", "profile", "email"},
			GroupsClaim: "groups", ReviewerGroups: []string{"other-group", oidctest.ReviewerGroup}}
	}}, mutate...)...)
	h := a.App.Handler()
	late.h.Store(&h)
	a.URL = srv.URL
	return a, p
}

// oidcSignIn presses "Sign in with …", signs in at the provider's own
// login page as u and returns Keyport's answer to the provider's redirect
// and the callback's address (for a replay).
func (b *browser) oidcSignIn(p *oidctest.Provider, u oidctest.User) (*page, string) {
	b.t.Helper()
	start := b.get("/reviewer/oidc/start")
	if start.Status != http.StatusSeeOther || !strings.HasPrefix(start.Location, p.Issuer) {
		b.t.Fatalf("start: status %d location %q: %s", start.Status, start.Location, text(start))
	}
	back, err := url.Parse(p.SignIn(b.t, start.Location, u))
	if err != nil || back.Path != "/reviewer/oidc/callback" {
		b.t.Fatalf("the provider sent the browser to %v (%v)", back, err)
	}
	return b.get(back.RequestURI()), back.RequestURI()
}

// loginEvent is an auditor.login or auditor.logout row as the trail keeps it.
type loginEvent struct {
	Action, Outcome, UserID, Message string
	Identity                         audit.Identity
}

func loginEvents(t *testing.T, a *testApp) []loginEvent {
	t.Helper()
	rows, err := a.Pool.Query(context.Background(), `SELECT action, outcome, actor_user_id, error_message, details::text
		FROM audit_events WHERE action IN ('auditor.login', 'auditor.logout') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []loginEvent
	for rows.Next() {
		var e loginEvent
		var details string
		if err := rows.Scan(&e.Action, &e.Outcome, &e.UserID, &e.Message, &details); err != nil {
			t.Fatal(err)
		}
		var d audit.Details
		if err := json.Unmarshal([]byte(details), &d); err != nil {
			t.Fatal(err)
		}
		if d.Identity != nil {
			e.Identity = *d.Identity
		}
		out = append(out, e)
	}
	return out
}

// noTokensStored fails when a JWT (an ID or access token) or the client
// secret is anywhere in the trail, the sessions or the log.
func noTokensStored(t *testing.T, a *testApp) {
	t.Helper()
	var trail string
	if err := a.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(t::text, ' '), '') FROM audit_events t`).Scan(&trail); err != nil {
		t.Fatal(err)
	}
	for where, s := range map[string]string{"audit trail": trail, "log": a.Log.String()} {
		if strings.Contains(s, "eyJ") || strings.Contains(s, oidctest.ClientSecret) {
			t.Errorf("the %s holds a token or the client secret", where)
		}
	}
}

func TestOIDCReviewerSignsInSeesTheTrailAndSignsOutAtTheProvider(t *testing.T) {
	a, p := newOIDCApp(t, false)
	addReviewer(t, a, "ada@example.com") // a local account of the same name, then disabled
	if err := reviewers(a).SetDisabled(context.Background(), audit.Actor{Kind: kp.ActorSystem}, "ada@example.com", true); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	login := b.get("/auditor/login")
	if got := login.Doc.Find(`[data-testid="oidc-signin"]`).Text(); got != "Sign in with 127.0.0.1" || login.Doc.Find(`[data-testid="login-form"]`).Length() != 1 {
		t.Fatalf("sign-in page: button %q, local form %d", got, login.Doc.Find(`[data-testid="login-form"]`).Length())
	}
	cb, _ := b.oidcSignIn(p, oidctest.Ada)
	if cb.Status != http.StatusSeeOther || cb.Location != "/audit" {
		t.Fatalf("callback: status %d location %q: %s", cb.Status, cb.Location, text(cb))
	}
	trail := b.follow(cb)
	if trail.Status != http.StatusOK || trail.Doc.Find(`[data-testid="audit-row"]`).Length() == 0 ||
		!strings.Contains(trail.Doc.Find(`[data-testid="identity"]`).Text(), "Signed in as reviewer ada@example.com") {
		t.Fatalf("/audit: status %d: %s", trail.Status, text(trail))
	}
	if csp := trail.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+p.Issuer+";") {
		t.Fatalf("an OIDC reviewer's page does not let Sign out reach the provider: %s", csp)
	}

	p.RotateKey() // the provider rotates its signing key: the next sign-in still works
	b2 := a.browser()
	if cb, _ := b2.oidcSignIn(p, oidctest.Ada); cb.Status != http.StatusSeeOther || cb.Location != "/audit" {
		t.Fatalf("after key rotation: status %d location %q: %s", cb.Status, cb.Location, text(cb))
	}

	out := b.post("/reviewer/logout", nil)
	if out.Status != http.StatusSeeOther || !strings.HasPrefix(out.Location, p.Issuer+"/end_session?") {
		t.Fatalf("logout: status %d location %q", out.Status, out.Location)
	}
	if again := b.get("/audit"); again.Status != http.StatusSeeOther || again.Location != "/reviewer/login" {
		t.Fatalf("after sign-out /audit: status %d location %q", again.Status, again.Location)
	}

	events := loginEvents(t, a)
	want := audit.Identity{Issuer: p.Issuer, Subject: oidctest.Ada.ID, Email: oidctest.Ada.Email, Groups: []string{oidctest.ReviewerGroup}}
	if len(events) != 3 {
		t.Fatalf("got %d sign-in events, want 3: %+v", len(events), events)
	}
	for i, w := range []struct{ action, outcome string }{{"auditor.login", "success"}, {"auditor.login", "success"}, {"auditor.logout", "success"}} {
		e := events[i]
		if e.Action != w.action || e.Outcome != w.outcome || e.UserID != "ada@example.com" || !sameIdentity(e.Identity, want) {
			t.Errorf("event %d: %+v, want %s %s with %+v", i, e, w.action, w.outcome, want)
		}
	}
	accts, err := reviewers(a).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, ac := range accts {
		sources = append(sources, ac.Username+" "+ac.Source)
	}
	if got := strings.Join(sources, "|"); got != "ada@example.com local|ada@example.com oidc "+p.Issuer {
		t.Fatalf("reviewer list: %s", got)
	}
	noTokensStored(t, a)
}

func sameIdentity(a, b audit.Identity) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject && a.Email == b.Email && strings.Join(a.Groups, ",") == strings.Join(b.Groups, ",")
}

func TestOIDCRefusalsAreClearAndAudited(t *testing.T) {
	a, p := newOIDCApp(t, false)
	for _, tc := range []struct {
		name     string
		spoil    oidctest.Spoil
		user     oidctest.User
		status   int
		page     string
		outcome  string
		message  string
		identity bool // the trail names the person (the token was good)
	}{
		{"a non-member is refused", oidctest.Honest, oidctest.Bob, http.StatusForbidden, "not in a group allowed to review", "denied", "not a member of a reviewer group", true},
		{"a tampered ID token is refused", oidctest.Tampered, oidctest.Ada, http.StatusUnauthorized, "could not be verified", "failure", "ID token rejected: failed to verify signature", false},
		{"a token for another audience is refused", oidctest.WrongAudience, oidctest.Ada, http.StatusUnauthorized, "could not be verified", "failure", `ID token rejected: expected audience "keyport"`, false},
		{"an expired token is refused", oidctest.Expired, oidctest.Ada, http.StatusUnauthorized, "could not be verified", "failure", "ID token rejected: expired at", false},
		{"a token without a nonce is refused", oidctest.NoNonce, oidctest.Ada, http.StatusUnauthorized, "could not be verified", "failure", "ID token rejected: nonce missing", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.SetSpoil(tc.spoil)
			defer p.SetSpoil(oidctest.Honest)
			before := len(loginEvents(t, a))
			b := a.browser()
			cb, _ := b.oidcSignIn(p, tc.user)
			if cb.Status != tc.status || !strings.Contains(cb.Doc.Find(`[data-testid="login-error"]`).Text(), tc.page) {
				t.Fatalf("status %d, want %d with %q: %s", cb.Status, tc.status, tc.page, text(cb))
			}
			if g := b.get("/audit"); g.Status != http.StatusSeeOther || g.Location != "/reviewer/login" {
				t.Fatalf("after a refusal /audit answers %d %q", g.Status, g.Location)
			}
			events := loginEvents(t, a)[before:]
			if len(events) != 1 {
				t.Fatalf("got %d events, want 1: %+v", len(events), events)
			}
			e := events[0]
			if e.Action != "auditor.login" || e.Outcome != tc.outcome || !strings.HasPrefix(e.Message, tc.message) || e.Identity.Issuer != p.Issuer {
				t.Fatalf("event %+v, want %s %q from %s", e, tc.outcome, tc.message, p.Issuer)
			}
			if named := e.Identity.Subject == tc.user.ID && e.Identity.Email == tc.user.Email; named != tc.identity {
				t.Fatalf("event names %+v, want the person named: %v", e.Identity, tc.identity)
			}
		})
	}
	t.Run("a replayed state is refused", func(t *testing.T) {
		b := a.browser()
		cb, callback := b.oidcSignIn(p, oidctest.Ada)
		if cb.Status != http.StatusSeeOther {
			t.Fatalf("first use: %d %s", cb.Status, text(cb))
		}
		before := len(loginEvents(t, a))
		for _, who := range []*browser{b, a.browser()} { // the same browser, and another one
			again := who.get(callback)
			if again.Status != http.StatusBadRequest || !strings.Contains(again.Doc.Find(`[data-testid="login-error"]`).Text(), "not valid any more") {
				t.Fatalf("replay: status %d: %s", again.Status, text(again))
			}
		}
		events := loginEvents(t, a)[before:]
		if len(events) != 2 {
			t.Fatalf("got %d events, want 2: %+v", len(events), events)
		}
		for _, e := range events {
			if e.Outcome != "failure" || !strings.HasPrefix(e.Message, "state missing, already used") || e.Identity.Issuer != p.Issuer || e.Identity.Subject != "" {
				t.Fatalf("replay event %+v", e)
			}
		}
	})
	noTokensStored(t, a)
}

func TestOIDCProviderDownAtStartIs503ThenSignInWorks(t *testing.T) {
	a, p := newOIDCApp(t, true)
	b := a.browser()
	if login := b.get("/reviewer/login"); login.Status != http.StatusOK || login.Doc.Find(`[data-testid="oidc-signin"]`).Length() != 1 {
		t.Fatalf("sign-in page with the provider down: %d", login.Status)
	}
	st := b.get("/reviewer/oidc/start")
	if st.Status != http.StatusServiceUnavailable || !strings.Contains(st.Doc.Find(`[data-testid="login-error"]`).Text(), "cannot be reached") {
		t.Fatalf("start with the provider down: %d %s", st.Status, text(st))
	}
	if !strings.Contains(a.Log.String(), "OIDC discovery failed") {
		t.Fatal("no warning logged for the unreachable provider")
	}
	p.SetDown(false)
	if cb, _ := b.oidcSignIn(p, oidctest.Ada); cb.Status != http.StatusSeeOther || cb.Location != "/audit" {
		t.Fatalf("once the provider is back: %d %s", cb.Status, text(cb))
	}
}

func TestLocalReviewersOffLeavesOnlyOIDC(t *testing.T) {
	a, p := newOIDCApp(t, false, func(s *testSetup) { s.Config.OIDC.LocalOff = true })
	addReviewer(t, a, "alice")
	b := a.browser()
	login := b.get("/reviewer/login")
	if login.Doc.Find(`[data-testid="login-form"]`).Length() != 0 || login.Doc.Find(`[data-testid="oidc-signin"]`).Length() != 1 {
		t.Fatalf("with local accounts off the page shows: %s", text(login))
	}
	refused := b.post("/reviewer/login", url.Values{"username": {"alice"}, "password": {reviewerPassword}})
	if refused.Status != http.StatusUnauthorized || !strings.Contains(text(refused), "turned off") {
		t.Fatalf("local sign-in with local accounts off: %d %s", refused.Status, text(refused))
	}
	events := loginEvents(t, a)
	if len(events) != 1 || events[0].Outcome != "denied" || events[0].Message != "local reviewer accounts are off" {
		t.Fatalf("events %+v", events)
	}
	if cb, _ := b.oidcSignIn(p, oidctest.Ada); cb.Status != http.StatusSeeOther || cb.Location != "/audit" {
		t.Fatalf("OIDC sign-in: %d %s", cb.Status, text(cb))
	}
}

// KEYPORT_OIDC_NAME names the provider on the sign-in button and in its
// messages, in place of the issuer's host (issue 22).
func TestOIDCNameNamesTheProvider(t *testing.T) {
	a, p := newOIDCApp(t, false, func(s *testSetup) { s.Config.OIDC.Name = "Acme SSO" })
	b := a.browser()
	if got := b.get("/reviewer/login").Doc.Find(`[data-testid="oidc-signin"]`).Text(); got != "Sign in with Acme SSO" {
		t.Fatalf("the sign-in button says %q", got)
	}
	refused, _ := b.oidcSignIn(p, oidctest.Bob)
	if msg := refused.Doc.Find(`[data-testid="login-error"]`).Text(); !strings.Contains(msg, "You signed in with Acme SSO as") || strings.Contains(msg, "127.0.0.1") {
		t.Fatalf("a non-member's refusal says %q", msg)
	}
}
