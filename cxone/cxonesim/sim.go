// Package cxonesim is an in-process simulator of the NICE CXone access-key
// API, built from shared/cxone-api.md §11. It is the only stand-in for CXone
// that Keyport uses, so it is strict wherever CXone is (or may be) strict,
// and can produce every response variant and fault the client must handle.
//
// Only cmd/ and tests import it. It does not import the cxone client, so
// the client's own tests can use it.
package cxonesim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

// Regions are the areas the simulator serves (cxone-api.md §2).
var defaultRegions = []string{"au1", "ca1", "eu1", "jp1", "na1", "na2", "uk1"}

// Options configures a Sim. The zero value is usable.
type Options struct {
	// Seed makes tenant, user and key ids deterministic (secrets and the
	// signing key are always random).
	Seed int64
	// BearerLifetime defaults to 3600 s, RefreshLifetime to 7200 s,
	// BasicLifetime (the Generate Key token) to 3600 s.
	BearerLifetime, RefreshLifetime, BasicLifetime time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger gets one line per request (never a body, token or secret).
	Logger *slog.Logger
	// RotateRefreshTokens rejects a refresh token once it has been used.
	RotateRefreshTokens bool
	// ReusableBasicTokens lets a basic token be exchanged more than once;
	// by default it is single-use, the strict reading of cxone-api.md §7.
	ReusableBasicTokens bool
	// SigningKey is the RS256 key; nil generates one.
	SigningKey *rsa.PrivateKey
	// BaseURL is the externally visible origin ("http://127.0.0.1:8081");
	// empty derives it from each request's Host.
	BaseURL string
	// Variants are the instance-wide response variants.
	Variants Variants
}

// Variants select response shapes and strictness switches (cxone-api.md §11
// "Response variants"). The zero value is the documented default.
type Variants struct {
	// CreateWrapper is "accessKey" (guide, default), "resultSet" (OAS) or "both".
	CreateWrapper string `json:"create_wrapper,omitempty"`
	// NumbersAsStrings sends agentId, billingId, totalRecords and token
	// lifetimes as numeric strings.
	NumbersAsStrings bool `json:"numbers_as_strings,omitempty"`
	// CamelTokenKeys makes the access-key token endpoint answer camelCase.
	CamelTokenKeys bool `json:"camel_token_keys,omitempty"`
	// LastUsedFormat is "rfc3339" (default), "offset", "naive", "epochms" or "absent".
	LastUsedFormat string `json:"last_used_format,omitempty"`
	// PageSize > 0 pages lists with _links.next.
	PageSize int `json:"page_size,omitempty"`
	// TotalRecordsDelta is added to totalRecords (a disagreeing count).
	TotalRecordsDelta int `json:"total_records_delta,omitempty"`
	// GetBare answers GET one key without the resultSet wrapper.
	GetBare bool `json:"get_bare,omitempty"`
	// NoContent answers 204 to PATCH, DELETE and an empty list.
	NoContent bool `json:"no_content,omitempty"`
	// NullFields sends optional fields as null; ExtraFields adds unknown ones.
	NullFields  bool `json:"null_fields,omitempty"`
	ExtraFields bool `json:"extra_fields,omitempty"`
	// LenientAccept turns off the strict Accept check (by default a request
	// without Accept: application/json gets 200 text/plain "No known way to
	// render data", as CXone REST does).
	LenientAccept bool `json:"lenient_accept,omitempty"`
	// RejectActiveDelete answers 409 to DELETE of an active key.
	RejectActiveDelete bool `json:"reject_active_delete,omitempty"`
	// KeyLimit > 0 refuses (400) a create beyond that many keys per user.
	KeyLimit int `json:"key_limit,omitempty"`
}

// Tenant is seed data, for tests and the Generate Key page.
type Tenant struct {
	Region, ID, Name string
	BusinessUnit     int64
	Users            []User
	Keys             []Key
}

// User is a tenant's user and its two access-key privileges.
type User struct {
	ID, Name, Email string
	// MyAccessKey lets the user manage their own keys; AccessKey, anyone's
	// in the tenant (cxone-api.md §8).
	MyAccessKey, AccessKey bool
	AgentID                int64 // 0: no ACD agent
	Role                   string
}

// Key is a key's state as the simulator holds it (no secret: only a hash
// of it is stored).
type Key struct {
	ID, UserID, TenantID string
	Active               bool
	LastUsed             *time.Time
	Created              time.Time
}

type tenant struct {
	region, id, name string
	bu               int64
	billing          int64
	cluster          string
	users            []*User
	keys             []*key // creation order
}

type key struct {
	Key
	secretHash [32]byte
	billing    int64
}

type tokenRec struct {
	use                      string // basic, access, refresh, id
	region, tenantID, userID string
	exp                      time.Time
	revoked                  bool
}

// Sim is the simulator. All state is in memory behind one mutex; a Sim
// made by Open also keeps it in a file (state.go).
type Sim struct {
	mu       sync.Mutex
	opts     Options
	now      func() time.Time
	log      *slog.Logger
	key      *rsa.PrivateKey
	kid      string
	base     string
	src      *mrand.ChaCha8 // rng's source, kept to save and restore its position
	rng      *mrand.Rand
	store    *store // nil: in memory only
	regions  []string
	tenants  []*tenant
	tokens   map[string]*tokenRec // by jti
	faults   []*faultEntry
	calls    map[string]int
	requests []RequestLogEntry
	variants Variants
}

// New builds a simulator with its seed data.
func New(opts Options) *Sim {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BearerLifetime <= 0 {
		opts.BearerLifetime = time.Hour
	}
	if opts.RefreshLifetime <= 0 {
		opts.RefreshLifetime = 2 * time.Hour
	}
	if opts.BasicLifetime <= 0 {
		opts.BasicLifetime = time.Hour
	}
	src := mrand.NewChaCha8(seedBytes(opts.Seed))
	s := &Sim{
		opts:     opts,
		now:      opts.Now,
		log:      opts.Logger,
		key:      opts.SigningKey,
		base:     strings.TrimRight(opts.BaseURL, "/"),
		src:      src,
		rng:      mrand.New(src),
		regions:  slices.Clone(defaultRegions),
		tokens:   map[string]*tokenRec{},
		calls:    map[string]int{},
		variants: opts.Variants,
	}
	if s.key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("cxonesim: rsa key: " + err.Error()) // crypto/rand does not fail
		}
		s.key = k
	}
	sum := sha256.Sum256(s.key.N.Bytes())
	s.kid = fmt.Sprintf("sim-%x", sum[:6])
	s.seed()
	return s
}

func seedBytes(seed int64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(uint64(seed) >> (8 * i))
	}
	copy(b[8:], "keyport-cxonesim-seed-v1")
	return b
}

func (s *Sim) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

var b32 = base32.StdEncoding

// keyID is 32 seeded bytes in base32: the documented ^[A-Z2-7]{52}====$.
func (s *Sim) keyID() string {
	var b [32]byte
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	return b32.EncodeToString(b[:])
}

// newSecret is 32 bytes from crypto/rand in the same format; only its hash
// is kept.
func newSecret() (string, [32]byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := b32.EncodeToString(b[:])
	return v, sha256.Sum256([]byte(v))
}

func (s *Sim) seed() {
	now := s.now().UTC().Truncate(time.Second)
	names := [2]string{"Acme Contact", "Globex Support"}
	for _, region := range s.regions {
		for ti, name := range names {
			t := &tenant{region: region, id: s.uuid(), name: fmt.Sprintf("%s %s", name, strings.ToUpper(region)),
				bu: -int64(100000000 + s.rng.IntN(900000000)), billing: int64(4000 + s.rng.IntN(5000)),
				cluster: [...]string{"B32", "C32", "E32", "A32"}[s.rng.IntN(4)]}
			domain := []string{"acme.example", "globex.example"}[ti]
			admin := &User{ID: s.uuid(), Name: "Ada Admin", Email: "ada@" + domain, MyAccessKey: true, AccessKey: true,
				AgentID: int64(100000 + s.rng.IntN(900000)), Role: "Administrator"}
			user := &User{ID: s.uuid(), Name: "Uma User", Email: "uma@" + domain, MyAccessKey: true,
				AgentID: int64(100000 + s.rng.IntN(900000)), Role: "Agent"}
			viewer := &User{ID: s.uuid(), Name: "Vic Viewer", Email: "vic@" + domain, Role: "Supervisor"}
			t.users = []*User{admin, user, viewer}
			recent := now.Add(-2 * time.Hour)
			old := now.AddDate(-1, -2, 0)
			t.keys = []*key{
				s.seedKey(t, admin, true, &recent, now.AddDate(0, -3, 0)),
				s.seedKey(t, admin, false, nil, now.AddDate(0, -6, 0)),
				s.seedKey(t, user, true, &old, now.AddDate(-2, 0, 0)),
			}
			s.tenants = append(s.tenants, t)
		}
	}
}

func (s *Sim) seedKey(t *tenant, u *User, active bool, lastUsed *time.Time, created time.Time) *key {
	_, h := newSecret()
	return &key{Key: Key{ID: s.keyID(), UserID: u.ID, TenantID: t.id, Active: active, LastUsed: lastUsed, Created: created},
		secretHash: h, billing: t.billing}
}

// Tenants returns a snapshot of every tenant, its users and keys.
func (s *Sim) Tenants() []Tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, t.snapshot())
	}
	return out
}

// SeededTenant returns the n-th (from 0) seeded tenant of region with its
// admin (who has "Access Key") and a plain user (with "My Access Key"
// only), for tests; ok is false when there is no such tenant.
func (s *Sim) SeededTenant(region string, n int) (t Tenant, admin, user User, ok bool) {
	for _, ten := range s.Tenants() {
		if ten.Region != region {
			continue
		}
		if n > 0 {
			n--
			continue
		}
		for _, u := range ten.Users {
			if u.AccessKey && admin.ID == "" {
				admin = u
			}
			if !u.AccessKey && u.MyAccessKey && user.ID == "" {
				user = u
			}
		}
		return ten, admin, user, admin.ID != "" && user.ID != ""
	}
	return Tenant{}, User{}, User{}, false
}

// Tenant returns one tenant by region and id.
func (s *Sim) Tenant(region, tenantID string) (Tenant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.findTenant(region, tenantID); t != nil {
		return t.snapshot(), true
	}
	return Tenant{}, false
}

func (t *tenant) snapshot() Tenant {
	out := Tenant{Region: t.region, ID: t.id, Name: t.name, BusinessUnit: t.bu}
	for _, u := range t.users {
		out.Users = append(out.Users, *u)
	}
	for _, k := range t.keys {
		kk := k.Key
		if k.LastUsed != nil {
			lu := *k.LastUsed
			kk.LastUsed = &lu
		}
		out.Keys = append(out.Keys, kk)
	}
	return out
}

func (s *Sim) findTenant(region, id string) *tenant {
	for _, t := range s.tenants {
		if t.region == region && strings.EqualFold(t.id, id) {
			return t
		}
	}
	return nil
}

func (t *tenant) user(id string) *User {
	for _, u := range t.users {
		if strings.EqualFold(u.ID, id) {
			return u
		}
	}
	return nil
}

// SetVariants replaces the instance-wide response variants.
func (s *Sim) SetVariants(v Variants) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.variants = v
}

// SetLifetimes changes the lifetimes of tokens issued from now on; zero
// keeps a value.
func (s *Sim) SetLifetimes(bearer, refresh time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bearer > 0 {
		s.opts.BearerLifetime = bearer
	}
	if refresh > 0 {
		s.opts.RefreshLifetime = refresh
	}
}

// SetBaseURL sets the externally visible origin used in issuers, the JWKS
// URL and links ("http://127.0.0.1:8081").
func (s *Sim) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = strings.TrimRight(u, "/")
}

// URLTemplate is the value for KEYPORT_CXONE_URL_TEMPLATE.
func (s *Sim) URLTemplate() string { return s.baseURL("") + "/{region}" }

// JWKSURL is the value for KEYPORT_CXONE_JWKS_URL.
func (s *Sim) JWKSURL() string { return s.baseURL("") + "/auth/jwks" }

func (s *Sim) baseURL(fallback string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cmpOr(s.base, fallback)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// BasicToken issues a basic token as CXone's Generate Key page does.
func (s *Sim) BasicToken(region, tenantID, userID string) (secret.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.findTenant(region, tenantID)
	if t == nil {
		return secret.Secret{}, fmt.Errorf("cxonesim: no tenant %q in region %q", tenantID, region)
	}
	u := t.user(userID)
	if u == nil {
		return secret.Secret{}, fmt.Errorf("cxonesim: no user %q in tenant %q", userID, tenantID)
	}
	tok := s.issueLocked("basic", t, u, s.opts.BasicLifetime, s.base)
	return secret.New(tok), nil
}

// Regions returns the areas served.
func (s *Sim) Regions() []string { return slices.Clone(s.regions) }

func (s *Sim) knownRegion(r string) bool { return slices.Contains(s.regions, r) }

// Rename changes the names tokens carry from now on: the tenant's name
// (when tenantName is not empty) and the user's login, which CXone puts in
// the "name" claim. For tests of what Keyport does with names chosen
// outside it (spreadsheet formulas in its CSV exports, issue 26).
func (s *Sim) Rename(region, tenantID, tenantName, userID, login string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.findTenant(region, tenantID)
	if t == nil {
		return fmt.Errorf("cxonesim: no tenant %q in region %q", tenantID, region)
	}
	u := t.user(userID)
	if u == nil {
		return fmt.Errorf("cxonesim: no user %q in tenant %q", userID, tenantID)
	}
	if tenantName != "" {
		t.name = tenantName
	}
	u.Email = login
	return nil
}
