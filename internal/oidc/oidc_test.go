package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/oidc"
	"github.com/keyport/keyport/internal/oidctest"
	"github.com/keyport/keyport/internal/secret"
)

const callback = "http://127.0.0.1:1/reviewer/oidc/callback"

// flaky is a transport the test can cut, as a provider outage would.
type flaky struct{ down atomic.Bool }

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.Load() {
		return nil, errors.New("connection refused")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func setup(t *testing.T) (*oidctest.Provider, *oidc.Client, *flaky) {
	p := oidctest.Start(t, callback, "http://127.0.0.1:1/reviewer/login")
	tr := &flaky{}
	c := oidc.New(oidc.Config{Issuer: p.Issuer, ClientID: oidctest.ClientID, ClientSecret: secret.New(oidctest.ClientSecret),
		RedirectURL: callback, Scopes: []string{"openid", "profile", "email"}, GroupsClaim: "groups",
		ReviewerGroups: []string{oidctest.ReviewerGroup}, HTTPClient: &http.Client{Transport: tr}})
	return p, c, tr
}

// signIn runs one sign-in as u and returns Finish's answer.
func signIn(t *testing.T, p *oidctest.Provider, c *oidc.Client, u oidctest.User) (oidc.Identity, error) {
	t.Helper()
	ctx := context.Background()
	authURL, flow, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := url.Parse(authURL)
	if q := a.Query(); q.Get("state") != flow.State || q.Get("nonce") != flow.Nonce || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		t.Fatalf("authorization URL lacks state, nonce or PKCE: %s", authURL)
	}
	back, _ := url.Parse(p.SignIn(t, authURL, u))
	if back.Query().Get("state") != flow.State {
		t.Fatalf("state came back as %q", back.Query().Get("state"))
	}
	return c.Finish(ctx, flow, back.Query().Get("code"))
}

func TestAMemberSignsInAndKeyRotationDoesNotBreakIt(t *testing.T) {
	p, c, _ := setup(t)
	id, err := signIn(t, p, c, oidctest.Ada)
	if err != nil {
		t.Fatal(err)
	}
	if id.Issuer != p.Issuer || id.Subject != oidctest.Ada.ID || id.Email != oidctest.Ada.Email ||
		strings.Join(id.Granted, ",") != oidctest.ReviewerGroup || len(id.Groups) != 2 {
		t.Fatalf("identity %+v", id)
	}
	old := p.KeyID()
	p.RotateKey()
	if p.KeyID() == old {
		t.Fatal("the key did not rotate")
	}
	if _, err := signIn(t, p, c, oidctest.Ada); err != nil {
		t.Fatalf("after the provider rotated its key: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	p, c, _ := setup(t)
	for _, tc := range []struct {
		name   string
		spoil  oidctest.Spoil
		user   oidctest.User
		reason string
	}{
		{"a non-member", oidctest.Honest, oidctest.Bob, "not a member of a reviewer group"},
		{"a tampered ID token", oidctest.Tampered, oidctest.Ada, "ID token rejected: failed to verify signature"},
		{"a token for another audience", oidctest.WrongAudience, oidctest.Ada, `ID token rejected: expected audience "keyport"`},
		{"an expired token", oidctest.Expired, oidctest.Ada, "ID token rejected: expired at"},
		{"a token without a nonce", oidctest.NoNonce, oidctest.Ada, "ID token rejected: nonce missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.SetSpoil(tc.spoil)
			defer p.SetSpoil(oidctest.Honest)
			_, err := signIn(t, p, c, tc.user)
			var r *oidc.Refusal
			if !errors.As(err, &r) || !strings.HasPrefix(r.Reason, tc.reason) {
				t.Fatalf("got %v, want a refusal starting %q", err, tc.reason)
			}
			if r.NotMember != (tc.user.ID == oidctest.Bob.ID) {
				t.Fatalf("NotMember %v", r.NotMember)
			}
			if strings.Count(r.Reason, ".") >= 2 && strings.Contains(r.Reason, "ey") {
				t.Fatalf("the reason may quote a token: %q", r.Reason)
			}
		})
	}
}

func TestAnUnreachableProviderIsUnavailableUntilItAnswers(t *testing.T) {
	p, c, tr := setup(t)
	tr.down.Store(true)
	if _, _, err := c.Begin(context.Background()); kp.KindOf(err) != kp.Unavailable {
		t.Fatalf("provider down: got %v, want kp.Unavailable", err)
	}
	tr.down.Store(false)
	if _, err := signIn(t, p, c, oidctest.Ada); err != nil {
		t.Fatalf("once the provider answers: %v", err)
	}
	if got := c.LogoutURL(); !strings.HasPrefix(got, p.Issuer+"/end_session?") || !strings.Contains(got, "client_id=keyport") || !strings.Contains(got, url.QueryEscape("http://127.0.0.1:1/reviewer/login")) {
		t.Fatalf("logout URL %q", got)
	}
}

func TestProviderNames(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://login.microsoftonline.com/0b0c/v2.0": "Microsoft Entra ID",
		"https://accounts.google.com":                 "Google",
		"https://acme.okta.com/oauth2/default":        "Okta",
		"https://sso.acme.test/realms/staff":          "Keycloak",
		"https://dex.acme.test":                       "dex.acme.test",
	} {
		if got := oidc.ProviderName(issuer); got != want {
			t.Errorf("ProviderName(%q) = %q, want %q", issuer, got, want)
		}
		if got := oidc.New(oidc.Config{Issuer: issuer}).Name(); got != want {
			t.Errorf("a client for %q without a name is named %q, want %q", issuer, got, want)
		}
	}
	if got := oidc.New(oidc.Config{Issuer: "https://dex.acme.test", Name: "Acme SSO"}).Name(); got != "Acme SSO" {
		t.Errorf("a client named Acme SSO is named %q", got)
	}
}
