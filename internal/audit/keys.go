package audit

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/secret"
)

// Keys are the keys derived from each key of the KEYPORT_AUDIT_KEY ring,
// one per purpose; the newest key's sign and fingerprint, every key's
// verify and match (docs/security.md, key rotation).
type Keys struct {
	ring []derivedKeys // newest first
}

// derivedKeys are one audit key's purpose keys.
type derivedKeys struct {
	id          string
	fingerprint []byte
	session     []byte
	checkpoint  []byte
}

// DeriveKeys derives the per-purpose keys from every key of the audit key
// ring with HKDF, so a leaked fingerprint key does not forge checkpoints and
// vice versa.
func DeriveKeys(ring keyring.Ring) (Keys, error) {
	if ring.Len() == 0 {
		return Keys{}, errors.New("no audit key")
	}
	var out Keys
	for _, key := range ring.Keys() {
		if key.Secret.Len() < 32 {
			return Keys{}, errors.New("audit key shorter than 32 bytes")
		}
		derive := func(purpose string) ([]byte, error) {
			return hkdf.Key(sha256.New, []byte(key.Secret.Reveal()), nil, "keyport "+purpose+" v1", 32)
		}
		k := derivedKeys{id: key.ID}
		var err error
		if k.fingerprint, err = derive("secret fingerprint"); err != nil {
			return Keys{}, err
		}
		if k.session, err = derive("session hash"); err != nil {
			return Keys{}, err
		}
		if k.checkpoint, err = derive("audit checkpoint"); err != nil {
			return Keys{}, err
		}
		out.ring = append(out.ring, k)
	}
	return out, nil
}

// NewestID is the id of the audit key that signs checkpoints and makes
// fingerprints.
func (k Keys) NewestID() string { return k.ring[0].id }

// IDs returns the ring's key ids, newest first.
func (k Keys) IDs() []string {
	ids := make([]string, len(k.ring))
	for i, d := range k.ring {
		ids[i] = d.id
	}
	return ids
}

// Fingerprint is the keyed HMAC-SHA-256 of a secret under the newest audit
// key, hex: lets a reviewer recognise a secret without Keyport ever storing
// it. FingerprintKeyID is stored beside it.
func (k Keys) Fingerprint(s secret.Secret) string { return fingerprint(k.ring[0].fingerprint, s) }

// FingerprintKeyID is the id of the key Fingerprint uses.
func (k Keys) FingerprintKeyID() string { return k.ring[0].id }

// Fingerprints returns s's fingerprint under every key of the ring, newest
// first: a fingerprint recorded before a rotation still matches, until its
// key leaves the ring (a secret is never kept, so it cannot be re-made).
func (k Keys) Fingerprints(s secret.Secret) []string {
	out := make([]string, len(k.ring))
	for i, d := range k.ring {
		out[i] = fingerprint(d.fingerprint, s)
	}
	return out
}

// MatchFingerprint reports whether fp is s's fingerprint under any key of
// the ring, comparing in constant time.
func (k Keys) MatchFingerprint(fp string, s secret.Secret) bool {
	ok := false
	for _, d := range k.ring {
		if hmac.Equal([]byte(fp), []byte(fingerprint(d.fingerprint, s))) {
			ok = true
		}
	}
	return ok
}

func fingerprint(key []byte, s secret.Secret) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s.Reveal()))
	return hex.EncodeToString(m.Sum(nil))
}

// SessionHash is the keyed hash recorded instead of a session id, under the
// newest audit key. Nothing is ever looked up by it, so an older key is not
// needed for it: a session that spans a rotation shows two hashes.
func (k Keys) SessionHash(s secret.Secret) string {
	if s.IsZero() {
		return ""
	}
	m := hmac.New(sha256.New, k.ring[0].session)
	m.Write([]byte(s.Reveal()))
	return hex.EncodeToString(m.Sum(nil))[:32]
}
