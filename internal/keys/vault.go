package keys

import (
	"bytes"
	"sync"
	"time"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// vaultTTL bounds how long a new key's secret stays in memory: long enough
// to copy, download and verify it from the creation page, no longer.
const vaultTTL = 10 * time.Minute

// Vault holds the secret of a just-created key in memory only, for the life
// of its creation page. Entries are bound to the creating session and are
// never written anywhere.
type Vault struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]*vaultEntry
}

type vaultEntry struct {
	secret      secret.Secret
	keyID       string
	sessionHash []byte
	shown       bool
	expires     time.Time
}

// NewVault returns an empty vault.
func NewVault(now func() time.Time) *Vault {
	return &Vault{now: now, entries: map[string]*vaultEntry{}}
}

// Put stores a secret and returns the handle for its creation page.
func (v *Vault) Put(sessionHash []byte, keyID string, s secret.Secret) string {
	token := kp.NewToken()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sweep()
	v.entries[token] = &vaultEntry{secret: s, keyID: keyID, sessionHash: sessionHash, expires: v.now().Add(vaultTTL)}
	return token
}

// Show returns the secret the first time the creation page asks; later
// calls return ok with shown=true and no secret.
func (v *Vault) Show(sessionHash []byte, token string) (keyID string, s secret.Secret, alreadyShown, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.get(sessionHash, token)
	if e == nil {
		return "", secret.Secret{}, false, false
	}
	if e.shown {
		return e.keyID, secret.Secret{}, true, true
	}
	e.shown = true
	return e.keyID, e.secret, false, true
}

// Peek returns the secret for a download or a verification from the
// creation page, without consuming it.
func (v *Vault) Peek(sessionHash []byte, token string) (keyID string, s secret.Secret, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.get(sessionHash, token)
	if e == nil {
		return "", secret.Secret{}, false
	}
	return e.keyID, e.secret, true
}

// Forget drops an entry.
func (v *Vault) Forget(token string) {
	v.mu.Lock()
	delete(v.entries, token)
	v.mu.Unlock()
}

func (v *Vault) get(sessionHash []byte, token string) *vaultEntry {
	v.sweep()
	e := v.entries[token]
	if e == nil || !bytes.Equal(e.sessionHash, sessionHash) {
		return nil
	}
	return e
}

func (v *Vault) sweep() {
	now := v.now()
	for k, e := range v.entries {
		if now.After(e.expires) {
			delete(v.entries, k)
		}
	}
}
