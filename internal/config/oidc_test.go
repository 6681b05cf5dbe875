package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func oidcEnv(t *testing.T) map[string]string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte("the-client-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := validEnv()
	m[OIDCIssuer] = "https://login.example.com/realms/acme/"
	m[OIDCClientID] = "keyport"
	m[OIDCClientSecretFile] = f
	m[OIDCRedirectURL] = "https://keyport.example.com/reviewer/oidc/callback"
	m[OIDCReviewerGroups] = "security-reviewers, audit"
	return m
}

func TestOIDCSettingsLoadWithTheirDefaults(t *testing.T) {
	c, err := load(t, oidcEnv(t))
	if err != nil {
		t.Fatalf("valid OIDC settings rejected: %v", err)
	}
	o := c.OIDC
	if !o.Enabled() || o.Issuer != "https://login.example.com/realms/acme/" || o.ClientID != "keyport" ||
		o.ClientSecret.Reveal() != "the-client-secret" || strings.Join(o.Scopes, " ") != "openid profile email" ||
		o.GroupsClaim != "groups" || strings.Join(o.ReviewerGroups, "|") != "security-reviewers|audit" || o.LocalOff {
		t.Fatalf("got %+v", o)
	}
	if o.Name != "" {
		t.Fatalf("KEYPORT_OIDC_NAME unset gives %q, want empty (the provider is named from its issuer)", o.Name)
	}
	m := oidcEnv(t)
	m[OIDCName] = "  Acme SSO "
	if c, err := load(t, m); err != nil || c.OIDC.Name != "Acme SSO" {
		t.Fatalf("KEYPORT_OIDC_NAME: %q, %v", c.OIDC.Name, err)
	}
	if c, err := load(t, validEnv()); err != nil || c.OIDC.Enabled() || c.OIDC.LocalOff {
		t.Fatalf("without an issuer: %+v, %v", c.OIDC, err)
	}
}

func TestOIDCProblemsAreNamedAndNeverShowTheSecret(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"plain http issuer", map[string]string{OIDCIssuer: "http://idp.example.com"}, "KEYPORT_OIDC_ISSUER: want an https URL"},
		{"no openid scope", map[string]string{OIDCScopes: "profile email"}, "KEYPORT_OIDC_SCOPES: must include openid"},
		{"no groups", map[string]string{OIDCReviewerGroups: " , "}, "KEYPORT_OIDC_REVIEWER_GROUPS: required"},
		{"no client id", map[string]string{OIDCClientID: ""}, "KEYPORT_OIDC_CLIENT_ID: required"},
		{"unreadable secret file", map[string]string{OIDCClientSecretFile: "/nonexistent/secret"}, "KEYPORT_OIDC_CLIENT_SECRET_FILE: cannot read"},
		{"wrong callback path", map[string]string{OIDCRedirectURL: "https://k.example.com/callback"}, "KEYPORT_OIDC_REDIRECT_URL: the path must be /reviewer/oidc/callback"},
		{"local reviewers neither on nor off", map[string]string{LocalReviewers: "maybe"}, "KEYPORT_LOCAL_REVIEWERS: want on or off"},
		{"client id without issuer", map[string]string{OIDCIssuer: ""}, "KEYPORT_OIDC_CLIENT_ID: set without KEYPORT_OIDC_ISSUER"},
		{"local off without issuer", map[string]string{OIDCIssuer: "", LocalReviewers: "off"}, "KEYPORT_LOCAL_REVIEWERS: off needs KEYPORT_OIDC_ISSUER"},
		{"name without issuer", map[string]string{OIDCIssuer: "", OIDCClientID: "", OIDCClientSecretFile: "", OIDCRedirectURL: "", OIDCReviewerGroups: "", OIDCName: "Acme SSO"}, "KEYPORT_OIDC_NAME: set without KEYPORT_OIDC_ISSUER"},
		{"name on two lines", map[string]string{OIDCName: "Acme\nSSO"}, "KEYPORT_OIDC_NAME: want a short name on one line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := oidcEnv(t)
			for k, v := range tc.set {
				m[k] = v
			}
			_, err := load(t, m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a line containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "the-client-secret") {
				t.Fatalf("error shows the client secret: %v", err)
			}
		})
	}
}
