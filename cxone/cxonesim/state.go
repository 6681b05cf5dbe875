package cxonesim

// A simulator's state in a file, for `keyport dev` and `keyport sim
// --state`: Keyport keeps its notes on keys (labels, paused rotations,
// sealed tokens) in PostgreSQL across restarts, so the simulator standing
// in for CXone must keep the keys, their states and the tokens it issued,
// or a restart would leave Keyport pointing at keys that vanished.

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// stateVersion is the format of the state file; another is refused.
const stateVersion = 1

// state is what a restart must keep: the tenants with their users and keys,
// the records of issued tokens (never a token itself: a token is checked by
// its signature and its jti), the signing key those signatures need, and
// the id generator, so that new ids never repeat old ones.
type state struct {
	Version    int           `json:"version"`
	Seed       int64         `json:"seed"`
	RNG        []byte        `json:"rng"`
	SigningKey []byte        `json:"signing_key"` // PKCS #8, the simulator's own
	Tenants    []tenantState `json:"tenants"`
	Tokens     []tokenState  `json:"tokens"`
}

type tenantState struct {
	Region       string     `json:"region"`
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	BusinessUnit int64      `json:"business_unit"`
	Billing      int64      `json:"billing"`
	Cluster      string     `json:"cluster"`
	Users        []User     `json:"users"`
	Keys         []keyState `json:"keys"`
}

// keyState holds a key's secret as its SHA-256 only: that is all the token
// endpoint compares (accessKeyToken), so the secret itself is never written.
type keyState struct {
	ID           string     `json:"id"`
	UserID       string     `json:"user_id"`
	Active       bool       `json:"active"`
	LastUsed     *time.Time `json:"last_used,omitempty"`
	Created      time.Time  `json:"created"`
	SecretSHA256 string     `json:"secret_sha256"`
	Billing      int64      `json:"billing"`
}

type tokenState struct {
	JTI      string    `json:"jti"`
	Use      string    `json:"use"`
	Region   string    `json:"region"`
	TenantID string    `json:"tenant_id"`
	UserID   string    `json:"user_id"`
	Expires  time.Time `json:"expires"`
	Revoked  bool      `json:"revoked,omitempty"`
}

// store writes a simulator's state to one file after every request that
// changed it.
type store struct {
	path string
	mu   sync.Mutex // one save at a time, so the last write holds the latest state
	last []byte     // what the file holds
}

// Open returns a simulator whose state lives in path: restored from it when
// the file exists (opts.Seed must be the one it was made with), seeded and
// written there otherwise. Every request that changes the state is followed
// by a save (a temporary file renamed over path, mode 0600). A file that
// cannot be read back is an error, never a silent fresh start: the keys
// Keyport knows of would vanish.
func Open(path string, opts Options) (*Sim, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		s := New(opts)
		s.store = &store{path: path}
		if err := s.save(); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("simulator state: %w", err)
	}
	st, key, err := parseState(b, opts.Seed)
	if err != nil {
		return nil, fmt.Errorf("simulator state %s: %w; move the file away to start again from the seed data", path, err)
	}
	opts.SigningKey = key
	s := New(opts)
	if err := s.src.UnmarshalBinary(st.RNG); err != nil {
		return nil, fmt.Errorf("simulator state %s: rng: %w", path, err)
	}
	s.tenants, s.tokens = st.restoreTenants(), st.restoreTokens()
	s.store = &store{path: path}
	return s, s.save()
}

func parseState(b []byte, seed int64) (state, *rsa.PrivateKey, error) {
	var st state
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, nil, fmt.Errorf("corrupt: %w", err)
	}
	if st.Version != stateVersion {
		return st, nil, fmt.Errorf("format version %d, this keyport reads %d", st.Version, stateVersion)
	}
	if st.Seed != seed {
		return st, nil, fmt.Errorf("made with seed %d, not %d", st.Seed, seed)
	}
	k, err := x509.ParsePKCS8PrivateKey(st.SigningKey)
	key, ok := k.(*rsa.PrivateKey)
	if err != nil || !ok {
		return st, nil, errors.New("corrupt: no RSA signing key")
	}
	if len(st.Tenants) == 0 || len(st.RNG) == 0 {
		return st, nil, errors.New("corrupt: no tenants or no rng state")
	}
	for _, t := range st.Tenants {
		if !slices.Contains(defaultRegions, t.Region) || t.ID == "" {
			return st, nil, fmt.Errorf("corrupt: tenant %q in area %q", t.ID, t.Region)
		}
		for _, k := range t.Keys {
			if h, err := hex.DecodeString(k.SecretSHA256); err != nil || len(h) != 32 || k.ID == "" {
				return st, nil, fmt.Errorf("corrupt: key %q", k.ID)
			}
		}
	}
	return st, key, nil
}

func (st state) restoreTenants() []*tenant {
	var out []*tenant
	for _, ts := range st.Tenants {
		t := &tenant{region: ts.Region, id: ts.ID, name: ts.Name, bu: ts.BusinessUnit, billing: ts.Billing, cluster: ts.Cluster}
		for _, u := range ts.Users {
			t.users = append(t.users, &u)
		}
		for _, ks := range ts.Keys {
			k := &key{Key: Key{ID: ks.ID, UserID: ks.UserID, TenantID: ts.ID, Active: ks.Active, LastUsed: ks.LastUsed, Created: ks.Created},
				billing: ks.Billing}
			hex.Decode(k.secretHash[:], []byte(ks.SecretSHA256)) // checked by parseState
			t.keys = append(t.keys, k)
		}
		out = append(out, t)
	}
	return out
}

func (st state) restoreTokens() map[string]*tokenRec {
	out := map[string]*tokenRec{}
	for _, ts := range st.Tokens {
		out[ts.JTI] = &tokenRec{use: ts.Use, region: ts.Region, tenantID: ts.TenantID, userID: ts.UserID, exp: ts.Expires, revoked: ts.Revoked}
	}
	return out
}

// stateLocked captures the state; tokens already expired are left out (they
// can only be refused, and would make the file grow without end). Callers
// hold s.mu.
func (s *Sim) stateLocked() (state, error) {
	rng, err := s.src.MarshalBinary()
	if err != nil {
		return state{}, fmt.Errorf("rng: %w", err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		return state{}, fmt.Errorf("signing key: %w", err)
	}
	st := state{Version: stateVersion, Seed: s.opts.Seed, RNG: rng, SigningKey: key, Tokens: []tokenState{}}
	for _, t := range s.tenants {
		ts := tenantState{Region: t.region, ID: t.id, Name: t.name, BusinessUnit: t.bu, Billing: t.billing, Cluster: t.cluster, Keys: []keyState{}}
		for _, u := range t.users {
			ts.Users = append(ts.Users, *u)
		}
		for _, k := range t.keys {
			ts.Keys = append(ts.Keys, keyState{ID: k.ID, UserID: k.UserID, Active: k.Active, LastUsed: k.LastUsed, Created: k.Created,
				SecretSHA256: hex.EncodeToString(k.secretHash[:]), Billing: k.billing})
		}
		st.Tenants = append(st.Tenants, ts)
	}
	now := s.now()
	for jti, r := range s.tokens {
		if now.Before(r.exp) {
			st.Tokens = append(st.Tokens, tokenState{JTI: jti, Use: r.use, Region: r.region, TenantID: r.tenantID, UserID: r.userID, Expires: r.exp, Revoked: r.revoked})
		}
	}
	slices.SortFunc(st.Tokens, func(a, b tokenState) int { return strings.Compare(a.JTI, b.JTI) })
	return st, nil
}

// save writes the state to the store's file when it differs from what the
// file holds.
func (s *Sim) save() error {
	if s.store == nil {
		return nil
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	s.mu.Lock()
	st, err := s.stateLocked()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	if bytes.Equal(b, s.store.last) {
		return nil
	}
	if err := writeFileAtomic(s.store.path, b); err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	s.store.last = b
	return nil
}

// writeFileAtomic writes b to a temporary file (mode 0600) beside path and
// renames it over path, so a crash leaves the old file or the new one,
// never half of one.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// saving saves the state after each request. The answer has already left
// by then: a process killed in between loses that one change, which a
// development simulator may; a graceful stop waits for the save.
func (s *Sim) saving(h http.Handler) http.Handler {
	if s.store == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if err := s.save(); err != nil {
			s.log.Error("cxonesim: the state was not saved", "err", err)
		}
	})
}

// StatePath returns the file the state is kept in, or "" when it lives in
// memory only.
func (s *Sim) StatePath() string {
	if s.store == nil {
		return ""
	}
	return s.store.path
}
