// Package oidctest runs a real OpenID provider in-process for tests: the
// certified github.com/zitadel/oidc/v3 provider (pkg/op) with its example
// storage and login page, wrapped to list each user's groups in a `groups`
// claim, to rotate its signing key on demand and, when a test asks, to
// hand out a spoiled ID token (tampered, for another audience, expired,
// without a nonce) signed with the provider's real key. Only tests import
// it; it must not import Keyport's packages.
package oidctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The provider's client (Keyport) and users. Every user's password is Password.
const (
	ClientID      = "keyport"
	ClientSecret  = "keyport-test-client-secret"
	Password      = "verysecure"
	ReviewerGroup = "security-reviewers"
)

// User is a person at the provider.
type User struct {
	ID, Username, Email string
	Groups              []string
}

// Ada is in the reviewer group; Bob is not.
var (
	Ada = User{ID: "ada-0001", Username: "ada", Email: "ada@example.com", Groups: []string{"staff", ReviewerGroup}}
	Bob = User{ID: "bob-0002", Username: "bob", Email: "bob@example.com", Groups: []string{"staff", "sales"}}
)

// Spoil is how the token endpoint spoils the next ID tokens.
type Spoil int

const (
	Honest        Spoil = iota
	Tampered            // one byte of the payload changed, signature kept
	WrongAudience       // aud is another client, re-signed with the provider's key
	Expired             // exp an hour ago, re-signed
	NoNonce             // nonce removed, re-signed
)

// Provider is a running provider.
type Provider struct {
	Issuer string
	t      testing.TB
	store  *store
	srv    *httptest.Server
	mu     sync.Mutex
	spoil  Spoil
	down   bool
}

// Start runs a provider whose client Keyport redirects back to redirectURL
// (and, after signing out, to postLogout). It stops with the test.
func Start(t testing.TB, redirectURL, postLogout string) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	users := userStore{Ada.Username: Ada, Bob.Username: Bob}
	client := storage.WebClient(ClientID, ClientSecret, redirectURL)
	inner := storage.NewStorageWithClients(users, map[string]*storage.Client{ClientID: client})
	s := &store{Storage: inner, users: users, client: &webClient{Client: client, postLogout: []string{postLogout}}}
	s.rotate()
	p := &Provider{Issuer: issuer, t: t, store: s}
	router := exampleop.SetupServer(issuer, s, nil, false)
	p.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: p.tokenMiddleware(router), ReadHeaderTimeout: 5 * time.Second}}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// SetSpoil makes the token endpoint spoil ID tokens from now on.
func (p *Provider) SetSpoil(s Spoil) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spoil = s
}

// SetDown makes the provider answer 503 to everything (an outage) or
// serve again.
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// RotateKey replaces the signing key; the JWKS then lists only the new one,
// so a relying party must refetch it.
func (p *Provider) RotateKey() { p.store.rotate() }

// KeyID is the current signing key's id.
func (p *Provider) KeyID() string { return p.store.current().id }

// tokenMiddleware spoils the token endpoint's ID token when asked.
func (p *Provider) tokenMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		spoil, down := p.spoil, p.down
		p.mu.Unlock()
		if down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if spoil == Honest || r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			copyResponse(w, rec, rec.Body.Bytes())
			return
		}
		if raw, ok := body["id_token"].(string); ok {
			body["id_token"] = p.spoilToken(raw, spoil)
		}
		out, _ := json.Marshal(body)
		copyResponse(w, rec, out)
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func (p *Provider) spoilToken(raw string, s Spoil) string {
	parts := strings.Split(raw, ".")
	if s == Tampered {
		payload := []byte(parts[1])
		payload[len(payload)/2] ^= 0x01 // still base64url, no longer what was signed
		if bytes.Equal(payload, []byte(parts[1])) {
			p.t.Fatal("tampering changed nothing")
		}
		return parts[0] + "." + string(payload) + "." + parts[2]
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		p.t.Errorf("parse the provider's ID token: %v", err)
		return raw
	}
	switch s {
	case WrongAudience:
		claims["aud"] = []string{"another-client"}
		claims["azp"] = "another-client"
	case Expired:
		claims["iat"] = time.Now().Add(-2 * time.Hour).Unix()
		claims["exp"] = time.Now().Add(-time.Hour).Unix()
	case NoNonce:
		delete(claims, "nonce")
	}
	k := p.store.current()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = k.id
	signed, err := tok.SignedString(k.key)
	if err != nil {
		p.t.Errorf("re-sign: %v", err)
	}
	return signed
}

// store is the example storage with rotating keys, groups in ID tokens and
// userinfo, and the client below.
type store struct {
	*storage.Storage
	users  userStore
	client *webClient
	mu     sync.Mutex
	key    signingKey
}

func (s *store) rotate() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = signingKey{id: rand.Text(), key: k}
}

func (s *store) current() signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	k := s.current()
	return &k, nil
}

func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *store) KeySet(context.Context) ([]op.Key, error) {
	k := s.current()
	return []op.Key{&publicKey{k}}, nil
}

func (s *store) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != ClientID {
		return nil, oidc.ErrInvalidClient()
	}
	return s.client, nil
}

// SetUserinfoFromRequest adds the groups claim to ID tokens.
func (s *store) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	if u, ok := s.users.byID(req.GetSubject()); ok {
		ui.AppendClaims("groups", u.Groups)
	}
	return nil
}

// webClient asks the provider to put the profile and email claims into the
// ID token (as Entra ID, Google and Keycloak do) and allows the sign-out
// return address.
type webClient struct {
	*storage.Client
	postLogout []string
}

func (c *webClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *webClient) PostLogoutRedirectURIs() []string     { return c.postLogout }

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return &k.key.PublicKey }

// userStore is the example storage's UserStore over the users above.
type userStore map[string]User

func (u userStore) byID(id string) (User, bool) {
	for _, x := range u {
		if x.ID == id {
			return x, true
		}
	}
	return User{}, false
}

func (u userStore) GetUserByID(id string) *storage.User {
	if x, ok := u.byID(id); ok {
		return toStorage(x)
	}
	return nil
}

func (u userStore) GetUserByUsername(name string) *storage.User {
	if x, ok := u[name]; ok {
		return toStorage(x)
	}
	return nil
}

func (u userStore) ExampleClientID() string { return "service" }

func toStorage(x User) *storage.User {
	return &storage.User{ID: x.ID, Username: x.Username, Password: Password, FirstName: strings.ToUpper(x.Username[:1]) + x.Username[1:],
		LastName: "Example", Email: x.Email, EmailVerified: true, PreferredLanguage: language.English}
}

// SignIn plays the person at the provider: it opens authURL, fills the
// provider's own login page as u, and returns the URL the provider sends
// the browser back to (Keyport's callback with code and state), without
// opening it.
func (p *Provider) SignIn(t testing.TB, authURL string, u User) string {
	t.Helper()
	var back string
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if !strings.HasPrefix(r.URL.String(), p.Issuer) {
			back = r.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("open the provider: %v", err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("the provider did not show its login page: %s", resp.Request.URL)
	}
	resp, err = c.PostForm(p.Issuer+"/login/username", map[string][]string{"id": {id}, "username": {u.Username}, "password": {Password}})
	if err != nil {
		t.Fatalf("sign in at the provider: %v", err)
	}
	resp.Body.Close()
	if back == "" {
		t.Fatalf("the provider did not send the browser back (status %d at %s)", resp.StatusCode, resp.Request.URL)
	}
	return back
}
