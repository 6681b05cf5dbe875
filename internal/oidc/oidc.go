// Package oidc is the reviewers' OpenID Connect sign-in with the company's
// identity provider (issue 16): discovery from the issuer URL (retried
// lazily while the provider cannot be reached), the authorization code flow
// with PKCE, state and nonce, and the ID token's checks (signature against
// the provider's JWKS, refetched when it rotates its keys; issuer; audience;
// expiry), all by github.com/coreos/go-oidc/v3 and golang.org/x/oauth2: no
// hand-written JWT checks. It says who the person is and whether a reviewer
// group lets them in; recording that is package reviewer's. It imports kp
// and secret, never db, handlers or web; no token leaves it.
package oidc

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// Config is the provider registration (internal/config's OIDC settings).
type Config struct {
	Issuer         string
	ClientID       string
	ClientSecret   secret.Secret
	RedirectURL    string
	Scopes         []string
	GroupsClaim    string
	ReviewerGroups []string
	// Name is the provider's name for people (KEYPORT_OIDC_NAME); "" names
	// it from the issuer (ProviderName).
	Name string
	// HTTPClient talks to the provider (nil: one with a 10 s timeout).
	HTTPClient *http.Client
	Log        *slog.Logger
}

// Client signs reviewers in with one provider. Safe for concurrent use.
type Client struct {
	cfg  Config
	name string

	mu       sync.Mutex
	provider *gooidc.Provider // nil until discovery succeeds
	verifier *gooidc.IDTokenVerifier
	endpoint oauth2.Endpoint
	logout   string // end_session_endpoint, "" when not advertised
}

// New returns a Client; it does not contact the provider (see Discover).
func New(cfg Config) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"openid", "profile", "email"}
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	return &Client{cfg: cfg, name: cmp.Or(cfg.Name, ProviderName(cfg.Issuer))}
}

// Name is the provider's name for the sign-in button.
func (c *Client) Name() string { return c.name }

// Issuer is the configured issuer URL.
func (c *Client) Issuer() string { return c.cfg.Issuer }

func (c *Client) ctx(ctx context.Context) context.Context {
	return gooidc.ClientContext(ctx, c.cfg.HTTPClient)
}

// Discover reads the provider's configuration once it answers. Until then
// every call tries again (so a provider that was down at start is found
// later) and fails with kp.Unavailable.
func (c *Client) Discover(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return nil
	}
	// The provider keeps this context for its key fetches: no deadline on
	// it (the HTTP client has one), only the client.
	p, err := gooidc.NewProvider(c.ctx(context.WithoutCancel(ctx)), c.cfg.Issuer)
	if err != nil {
		c.cfg.Log.WarnContext(ctx, "OIDC discovery failed; reviewers' sign-in with the provider is unavailable until it answers",
			"issuer", c.cfg.Issuer, "err", err)
		return kp.Wrap(kp.Unavailable, err, fmt.Sprintf("%s cannot be reached just now. Try again in a minute.", c.name))
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&extra); err == nil && strings.HasPrefix(extra.EndSession, "http") {
		c.logout = extra.EndSession
	}
	c.provider, c.endpoint = p, p.Endpoint()
	c.verifier = p.Verifier(&gooidc.Config{ClientID: c.cfg.ClientID})
	return nil
}

func (c *Client) oauth() *oauth2.Config {
	return &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret.Reveal(),
		RedirectURL: c.cfg.RedirectURL, Scopes: c.cfg.Scopes, Endpoint: c.endpoint}
}

// Flow is a sign-in in progress: what the reviewer's session keeps between
// the redirect to the provider and the callback. Every field is random and
// used once.
type Flow struct {
	State    string
	Nonce    string
	Verifier string // PKCE code verifier
}

// Begin starts a sign-in: it returns the provider's authorization URL and
// the Flow to keep in the session. kp.Unavailable when the provider cannot
// be reached.
func (c *Client) Begin(ctx context.Context) (string, Flow, error) {
	if err := c.Discover(ctx); err != nil {
		return "", Flow{}, err
	}
	f := Flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
	c.mu.Lock()
	o := c.oauth()
	c.mu.Unlock()
	u := o.AuthCodeURL(f.State, gooidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return u, f, nil
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Identity is who the provider says signed in, from a verified ID token.
type Identity struct {
	Issuer  string
	Subject string
	Email   string
	Name    string
	Groups  []string // every group the token lists
	Granted []string // those of them that are reviewer groups
}

// Refusal is a sign-in that did not pass. Reason is for the audit trail
// (never a token); Identity is what is known of the person, if anything.
type Refusal struct {
	Reason   string
	Identity Identity
	// NotMember: the token was good but no reviewer group lists the person.
	NotMember bool
}

func (r *Refusal) Error() string { return "OIDC sign-in refused: " + r.Reason }

// Finish exchanges the code (with the flow's PKCE verifier) and checks the
// ID token: signature, issuer, audience and expiry (go-oidc), the nonce,
// then group membership. A refused sign-in is a *Refusal; a provider that
// cannot be reached is kp.Unavailable.
func (c *Client) Finish(ctx context.Context, f Flow, code string) (Identity, error) {
	if err := c.Discover(ctx); err != nil {
		return Identity{}, err
	}
	c.mu.Lock()
	o, verifier := c.oauth(), c.verifier
	c.mu.Unlock()
	tok, err := o.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Identity{}, &Refusal{Reason: "the provider refused the code: " + re.ErrorCode}
		}
		return Identity{}, kp.Wrap(kp.Unavailable, err, fmt.Sprintf("%s did not answer. Try again in a minute.", c.name))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, &Refusal{Reason: "no ID token in the provider's answer"}
	}
	idt, err := verifier.Verify(c.ctx(ctx), raw)
	if err != nil {
		return Identity{}, &Refusal{Reason: "ID token rejected: " + reason(err)}
	}
	id, err := c.identity(idt)
	if err != nil {
		return Identity{}, &Refusal{Reason: "ID token rejected: " + err.Error(), Identity: id}
	}
	if idt.Nonce == "" || idt.Nonce != f.Nonce {
		return Identity{}, &Refusal{Reason: "ID token rejected: nonce missing or not this sign-in's", Identity: id}
	}
	if len(id.Granted) == 0 {
		return id, &Refusal{Reason: "not a member of a reviewer group", Identity: id, NotMember: true}
	}
	return id, nil
}

// reason words go-oidc's error for the trail. Its messages name the
// expected and found issuer or audience, never the token.
func reason(err error) string {
	var exp *gooidc.TokenExpiredError
	if errors.As(err, &exp) {
		return "expired at " + exp.Expiry.UTC().Format(time.RFC3339)
	}
	return strings.TrimPrefix(err.Error(), "oidc: ")
}

func (c *Client) identity(idt *gooidc.IDToken) (Identity, error) {
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return id, errors.New("unreadable claims")
	}
	id.Email, _ = claims["email"].(string)
	id.Name, _ = claims["name"].(string)
	switch g := claims[c.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	case string: // some providers send a single group as a string
		id.Groups = []string{g}
	}
	for _, g := range id.Groups {
		for _, want := range c.cfg.ReviewerGroups {
			if g == want {
				id.Granted = append(id.Granted, g)
			}
		}
	}
	return id, nil
}

// LogoutURL is the provider's end-session URL (RP-initiated logout),
// which sends the browser back to Keyport's sign-in page (the redirect
// URL's origin + /reviewer/login: register it at the provider as the
// post-logout redirect URI), or "" when the provider advertises none. It
// names the client, not an ID token, so no token is kept for it.
func (c *Client) LogoutURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logout == "" {
		return ""
	}
	u, err := url.Parse(c.logout)
	back, berr := url.Parse(c.cfg.RedirectURL)
	if err != nil || berr != nil {
		return ""
	}
	after := (&url.URL{Scheme: back.Scheme, Host: back.Host, Path: "/reviewer/login"}).String()
	q := u.Query()
	q.Set("client_id", c.cfg.ClientID)
	q.Set("post_logout_redirect_uri", after)
	u.RawQuery = q.Encode()
	return u.String()
}

// LogoutOrigin is the origin (scheme://host) of the provider's end-session
// endpoint, or "" when it has none: a signed-in OIDC reviewer's pages allow
// it as a form-action, since the sign-out form's redirect goes there.
func (c *Client) LogoutOrigin() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, err := url.Parse(c.logout)
	if c.logout == "" || err != nil || u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// ProviderName names a provider for people from its issuer URL: the big
// ones by their product names, any other by its host.
func ProviderName(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return "your identity provider"
	}
	h := strings.ToLower(u.Hostname())
	switch {
	case h == "login.microsoftonline.com" || strings.HasSuffix(h, ".microsoftonline.com"):
		return "Microsoft Entra ID"
	case h == "accounts.google.com":
		return "Google"
	case strings.HasSuffix(h, ".okta.com") || strings.HasSuffix(h, ".oktapreview.com"):
		return "Okta"
	case strings.Contains(u.Path, "/realms/"):
		return "Keycloak"
	}
	return h
}
