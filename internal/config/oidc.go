package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/keyport/keyport/internal/secret"
)

// The OpenID Connect settings (issue 16): reviewers sign in with the
// company's identity provider. Their names are a public contract.
const (
	OIDCIssuer           = "KEYPORT_OIDC_ISSUER"
	OIDCClientID         = "KEYPORT_OIDC_CLIENT_ID"
	OIDCClientSecretFile = "KEYPORT_OIDC_CLIENT_SECRET_FILE"
	OIDCRedirectURL      = "KEYPORT_OIDC_REDIRECT_URL"
	OIDCScopes           = "KEYPORT_OIDC_SCOPES"
	OIDCGroupsClaim      = "KEYPORT_OIDC_GROUPS_CLAIM"
	OIDCReviewerGroups   = "KEYPORT_OIDC_REVIEWER_GROUPS"
	LocalReviewers       = "KEYPORT_LOCAL_REVIEWERS"
	// OIDCName is the provider's name on the sign-in button and in its
	// messages (issue 22).
	OIDCName = "KEYPORT_OIDC_NAME"
)

// oidcVars are the settings' descriptions, appended to Vars.
var oidcVars = []Var{
	{Env: OIDCIssuer, Flag: "oidc-issuer", Help: "OpenID Connect issuer URL for reviewers' sign-in (discovery at /.well-known/openid-configuration); empty = no OIDC"},
	{Env: OIDCClientID, Flag: "oidc-client-id", Help: "Keyport's client id at the identity provider"},
	{Env: OIDCClientSecretFile, Flag: "oidc-client-secret-file", Help: "file holding Keyport's client secret at the identity provider"},
	{Env: OIDCRedirectURL, Flag: "oidc-redirect-url", Help: "Keyport's callback registered at the provider: https://<host>/reviewer/oidc/callback"},
	{Env: OIDCScopes, Flag: "oidc-scopes", Default: "openid profile email", Help: "scopes asked for, space-separated (must include openid)"},
	{Env: OIDCGroupsClaim, Flag: "oidc-groups-claim", Default: "groups", Help: "ID-token claim listing the person's groups"},
	{Env: OIDCReviewerGroups, Flag: "oidc-reviewer-groups", Help: "comma-separated groups whose members may review (required with an issuer)"},
	{Env: LocalReviewers, Flag: "local-reviewers", Default: "on", Help: "on: local reviewer accounts may sign in; off: only OIDC"},
	{Env: OIDCName, Flag: "oidc-name", Help: "the provider's name on the sign-in button (\"Sign in with <name>\") and in its messages; empty = the product's name for a recognised issuer (Microsoft Entra ID, Google, Okta, Keycloak), else the issuer's host"},
}

// OIDC is the reviewers' OpenID Connect sign-in; the zero value (no
// Issuer) means it is off.
type OIDC struct {
	Issuer         string
	ClientID       string
	SecretFile     string
	ClientSecret   secret.Secret // read from SecretFile by Load
	RedirectURL    string
	Scopes         []string
	GroupsClaim    string
	ReviewerGroups []string
	// LocalOff refuses local reviewer accounts (KEYPORT_LOCAL_REVIEWERS=off).
	LocalOff bool
	// Name is the provider's name for people; "" lets internal/oidc name it
	// from the issuer.
	Name string
}

// Enabled reports whether OIDC sign-in is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// set validates one OIDC setting's own shape; check the combination.
func (o *OIDC) set(env, v string) error {
	switch env {
	case OIDCIssuer:
		// Kept exactly as given: discovery and the ID token's iss must
		// match it byte for byte (some providers' issuers end with "/").
		if o.Issuer = v; v != "" && !secureURL(v) {
			return errors.New("want an https URL (http only for localhost)")
		}
	case OIDCClientID:
		o.ClientID = strings.TrimSpace(v)
	case OIDCClientSecretFile:
		o.SecretFile = v
	case OIDCRedirectURL:
		if o.RedirectURL = v; v != "" && !secureURL(v) {
			return errors.New("want an https URL (http only for localhost)")
		}
	case OIDCScopes:
		if o.Scopes = strings.Fields(v); !slices.Contains(o.Scopes, "openid") {
			return errors.New("must include openid")
		}
	case OIDCGroupsClaim:
		if o.GroupsClaim = strings.TrimSpace(v); o.GroupsClaim == "" {
			return errors.New("must not be empty")
		}
	case OIDCReviewerGroups:
		o.ReviewerGroups = nil
		for _, g := range strings.Split(v, ",") {
			if g = strings.TrimSpace(g); g != "" {
				o.ReviewerGroups = append(o.ReviewerGroups, g)
			}
		}
	case OIDCName:
		if o.Name = strings.TrimSpace(v); len(o.Name) > 60 || strings.ContainsFunc(o.Name, unicode.IsControl) {
			return errors.New("want a short name on one line (60 characters at most)")
		}
	case LocalReviewers:
		switch v {
		case "on":
			o.LocalOff = false
		case "off":
			o.LocalOff = true
		default:
			return errors.New("want on or off")
		}
	}
	return nil
}

// check validates the combination after every setting is read, reading
// the client secret through readFile. Each problem names its variable;
// none contains the secret.
func (o *OIDC) check(readFile func(string) ([]byte, error)) []error {
	var errs []error
	if !o.Enabled() {
		for env, v := range map[string]string{OIDCClientID: o.ClientID, OIDCClientSecretFile: o.SecretFile,
			OIDCRedirectURL: o.RedirectURL, OIDCReviewerGroups: strings.Join(o.ReviewerGroups, ","), OIDCName: o.Name} {
			if v != "" {
				errs = append(errs, fmt.Errorf("%s: set without %s", env, OIDCIssuer))
			}
		}
		if o.LocalOff {
			errs = append(errs, fmt.Errorf("%s: off needs %s (no reviewer could sign in)", LocalReviewers, OIDCIssuer))
		}
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return errs
	}
	for env, v := range map[string]string{OIDCClientID: o.ClientID, OIDCClientSecretFile: o.SecretFile, OIDCRedirectURL: o.RedirectURL} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s: required with %s", env, OIDCIssuer))
		}
	}
	if len(o.ReviewerGroups) == 0 {
		errs = append(errs, fmt.Errorf("%s: required with %s (who may review)", OIDCReviewerGroups, OIDCIssuer))
	}
	if o.RedirectURL != "" {
		if u, err := url.Parse(o.RedirectURL); err == nil && u.Path != "/reviewer/oidc/callback" {
			errs = append(errs, fmt.Errorf("%s: the path must be /reviewer/oidc/callback", OIDCRedirectURL))
		}
	}
	if o.SecretFile != "" {
		b, err := readFile(o.SecretFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: cannot read the file: %w", OIDCClientSecretFile, errors.Unwrap(err)))
		case strings.TrimSpace(string(b)) == "":
			errs = append(errs, fmt.Errorf("%s: the file is empty", OIDCClientSecretFile))
		default:
			o.ClientSecret = secret.New(strings.TrimSpace(string(b)))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// secureURL accepts an absolute https URL, or http to a loopback host
// (development and tests), with no query or fragment.
func secureURL(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return u.Scheme == "http" && (h == "localhost" || ip != nil && ip.IsLoopback())
}
