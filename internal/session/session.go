// Package session holds Keyport's server-side sessions: a gorilla/sessions
// Store backed by PostgreSQL. The cookie carries only a random id, signed
// with the newest KEYPORT_SESSION_KEY (any key of the ring is accepted, and
// a cookie signed with an older one is signed anew on the next response);
// the database keeps the id's SHA-256, the id of the key that signed the
// cookie last sent, and the values sealed with KEYPORT_ENCRYPTION_KEY. Idle and absolute timeouts are
// enforced on the server, and deleting the row (logout) kills a replayed
// cookie. Admin and reviewer sessions are separate kinds with separate
// cookies, so one can never be used as the other.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/seal"
	"github.com/keyport/keyport/internal/secret"
)

// Kind is a session's audience.
type Kind string

const (
	Admin Kind = "admin"
	// Reviewer is a security reviewer's session. Its value keeps the role's
	// old name: the sessions table's CHECK constraint and the rows of
	// signed-in reviewers hold it.
	Reviewer Kind = "auditor"
)

// Options configure one Store.
type Options struct {
	Kind     Kind
	Cookie   string // base cookie name; "__Host-" is prefixed when Secure
	Secure   bool
	Idle     time.Duration
	Absolute time.Duration
	Now      func() time.Time // nil = time.Now
}

// Store is a sessions.Store for one kind of session.
type Store struct {
	pool   *pgxpool.Pool
	sealer *seal.Sealer
	codecs []*securecookie.SecureCookie // one per session key, newest first
	keyIDs []string                     // the session keys' ids, in codecs' order
	o      Options
	name   string
}

// New returns a Store. The newest of sessionKeys signs cookies, any of them
// verifies one; encryptionKeys seal values.
func New(pool *pgxpool.Pool, sessionKeys, encryptionKeys keyring.Ring, o Options) (*Store, error) {
	if o.Kind != Admin && o.Kind != Reviewer {
		return nil, fmt.Errorf("session: unknown kind %q", o.Kind)
	}
	if o.Idle <= 0 || o.Absolute <= 0 {
		return nil, errors.New("session: idle and absolute timeouts are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sealer, err := seal.New(encryptionKeys, seal.SessionData)
	if err != nil {
		return nil, err
	}
	if sessionKeys.Len() == 0 {
		return nil, errors.New("session: no session key")
	}
	s := &Store{pool: pool, sealer: sealer, o: o, name: o.Cookie}
	for _, k := range sessionKeys.Keys() {
		codec := securecookie.New([]byte(k.Secret.Reveal()), nil)
		codec.MaxAge(int(o.Absolute.Seconds()) + 60)
		codec.SetSerializer(securecookie.JSONEncoder{})
		s.codecs = append(s.codecs, codec)
		s.keyIDs = append(s.keyIDs, k.ID)
	}
	if o.Secure {
		s.name = "__Host-" + s.name
	}
	return s, nil
}

// Name is the cookie name, which is also the gorilla session name.
func (s *Store) Name() string { return s.name }

// Kind is the store's session kind.
func (s *Store) Kind() Kind { return s.o.Kind }

func (s *Store) cookieOptions() *sessions.Options {
	// MaxAge 0: a browser-session cookie; the server enforces the lifetimes.
	return &sessions.Options{Path: "/", HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteLaxMode}
}

// Get returns the request's session, loading it once per request.
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// Load is Get for the store's own cookie name.
func (s *Store) Load(r *http.Request) (*sessions.Session, error) { return s.Get(r, s.name) }

// New loads the session named by the request's cookie, or returns a new,
// empty one when there is none or it is unknown, expired, of another kind
// or tampered with. Only a database failure is an error.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	sess.Options = s.cookieOptions()
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	id, signedBy := s.decode(name, c.Value)
	if len(id) != 43 {
		return sess, nil
	}
	h := hashID(id)
	row, err := s.load(r.Context(), h)
	if kp.KindOf(err) == kp.NotFound {
		return sess, nil
	}
	if err != nil {
		return sess, kp.StoreError(err, "Keyport cannot reach its database right now. Try again in a moment.")
	}
	plain, err := s.sealer.Open(row.Data, h)
	if err != nil {
		return sess, nil // sealed under another key: treat as signed out
	}
	var values map[string]string
	if err := json.Unmarshal(plain, &values); err != nil {
		return sess, nil
	}
	for k, v := range values {
		sess.Values[k] = v
	}
	sess.Values[loadedKey] = loadedMark(plain, row.LastSeenAt, signedBy)
	sess.ID = id
	sess.IsNew = false
	return sess, nil
}

// load reads the session row; when the request asked for it (see
// db.WithSessionPreload), the session's connections come in the same
// statement.
func (s *Store) load(ctx context.Context, h []byte) (*db.SessionRow, error) {
	p := db.SessionPreloadFrom(ctx)
	if p == nil {
		return db.New(s.pool).LoadSession(ctx, h, string(s.o.Kind), s.o.Now(), s.o.Idle)
	}
	row, conns, err := db.New(s.pool).LoadSessionWithConnections(ctx, h, string(s.o.Kind), s.o.Now(), s.o.Idle)
	if err == nil || kp.KindOf(err) == kp.NotFound {
		p.Done, p.Conns = true, conns
	}
	return row, err
}

// decode returns the session id a cookie carries and the id of the session
// key that signed it, trying the ring's keys newest first; "" when none
// verifies it.
func (s *Store) decode(name, value string) (id, keyID string) {
	for i, codec := range s.codecs {
		if err := codec.Decode(name, value, &id); err == nil {
			return id, s.keyIDs[i]
		}
	}
	return "", ""
}

// loadedKey holds, in memory only (encodeValues skips it), what the stored
// row said when the session was loaded: a hash of its values, when it was
// last seen, and which session key signed the cookie. Save then skips the
// write when nothing changed, the cookie was signed with the newest key and
// the row was marked seen less than refreshEvery ago: most page views change
// nothing, and a write on every view is a round trip and a contended row.
const loadedKey = "\x00loaded"

func loadedMark(plain []byte, seen time.Time, signedBy string) string {
	sum := sha256.Sum256(plain)
	return base64.RawStdEncoding.EncodeToString(sum[:]) + "|" + strconv.FormatInt(seen.UnixNano(), 10) + "|" + signedBy
}

// refreshEvery is how often an unchanged session's last-seen time is
// written: at most once a minute, and often enough for short idle limits.
func (s *Store) refreshEvery() time.Duration {
	return min(time.Minute, s.o.Idle/10)
}

// unchanged reports whether data is what sess was loaded with and the row
// was marked seen recently enough to skip this save.
func (s *Store) unchanged(sess *sessions.Session, data []byte, now time.Time) bool {
	mark, _ := sess.Values[loadedKey].(string)
	parts := strings.Split(mark, "|")
	if len(parts) != 3 || parts[2] != s.keyIDs[0] {
		return false // an older key signed the cookie: record that the newest now does
	}
	hash, seen := parts[0], parts[1]
	ns, err := strconv.ParseInt(seen, 10, 64)
	if err != nil || now.Sub(time.Unix(0, ns)) >= s.refreshEvery() {
		return false
	}
	sum := sha256.Sum256(data)
	return hash == base64.RawStdEncoding.EncodeToString(sum[:])
}

// Save writes the session (creating its row on first save) and sets the
// cookie. A session whose Options.MaxAge is negative is deleted.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := context.WithoutCancel(r.Context())
	q := db.New(s.pool)
	if sess.Options != nil && sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := q.DeleteSession(ctx, hashID(sess.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		sess.ID = ""
		return nil
	}
	data, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	now := s.o.Now()
	if sess.ID != "" && s.unchanged(sess, data, now) {
		return s.setCookie(w, sess)
	}
	if sess.ID != "" {
		h := hashID(sess.ID)
		err := q.UpdateSession(ctx, h, s.sealer.Seal(data, h), s.keyIDs[0], ownerOf(sess), now)
		if kp.KindOf(err) != kp.NotFound {
			if err != nil {
				return err
			}
			return s.setCookie(w, sess)
		}
		sess.ID = "" // expired meanwhile: start a new one
	}
	id := newID()
	h := hashID(id)
	if err := q.InsertSession(ctx, &db.SessionRow{IDHash: h, Kind: string(s.o.Kind), Data: s.sealer.Seal(data, h),
		CookieKeyID: s.keyIDs[0], Owner: ownerOf(sess), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.o.Absolute)}); err != nil {
		return err
	}
	sess.ID = id
	sess.IsNew = false
	return s.setCookie(w, sess)
}

// Rotate gives the session a new id (after sign-in or connect, against
// session fixation), keeping its values and connections.
func (s *Store) Rotate(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.ID == "" {
		return s.Save(r, w, sess)
	}
	data, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	id := newID()
	h := hashID(id)
	err = db.New(s.pool).RekeySession(context.WithoutCancel(r.Context()), hashID(sess.ID), h, s.sealer.Seal(data, h), s.keyIDs[0], ownerOf(sess), s.o.Now())
	if kp.KindOf(err) == kp.NotFound {
		sess.ID = ""
		return s.Save(r, w, sess)
	}
	if err != nil {
		return err
	}
	sess.ID = id
	return s.setCookie(w, sess)
}

// Destroy deletes the session row and expires the cookie.
func (s *Store) Destroy(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	sess.Options.MaxAge = -1
	return s.Save(r, w, sess)
}

func (s *Store) setCookie(w http.ResponseWriter, sess *sessions.Session) error {
	encoded, err := s.codecs[0].Encode(sess.Name(), sess.ID)
	if err != nil {
		return fmt.Errorf("encode session cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), encoded, sess.Options))
	return nil
}

// IDHash is the database key of a saved session: its id's SHA-256.
func IDHash(sess *sessions.Session) []byte {
	if sess.ID == "" {
		return nil
	}
	return hashID(sess.ID)
}

// ID returns the session id as a Secret (for audit hashing), zero if unsaved.
func ID(sess *sessions.Session) secret.Secret { return secret.New(sess.ID) }

// Cleanup deletes this store's expired sessions now.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	return db.New(s.pool).DeleteExpiredSessions(ctx, string(s.o.Kind), s.o.Now(), s.o.Idle)
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// encodeValues accepts only string keys and values: sessions hold ids,
// flashes and small markers, never structures or credentials.
func encodeValues(v map[interface{}]interface{}) ([]byte, error) {
	m := make(map[string]string, len(v))
	for k, val := range v {
		if k == loadedKey {
			continue
		}
		ks, ok1 := k.(string)
		vs, ok2 := val.(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("session: value %v is not a string pair", k)
		}
		m[ks] = vs
	}
	return json.Marshal(m)
}

// Flash is a one-time message for the next page.
type Flash struct {
	Kind    string `json:"k"`
	Message string `json:"m"`
}

const flashKey = "flash"

// AddFlash queues a message for the next page the session renders.
func AddFlash(sess *sessions.Session, kind, message string) {
	var fs []Flash
	if raw, ok := sess.Values[flashKey].(string); ok {
		_ = json.Unmarshal([]byte(raw), &fs)
	}
	fs = append(fs, Flash{Kind: kind, Message: message})
	b, _ := json.Marshal(fs)
	sess.Values[flashKey] = string(b)
}

// TakeFlashes returns and clears the queued messages.
func TakeFlashes(sess *sessions.Session) []Flash {
	raw, ok := sess.Values[flashKey].(string)
	if !ok {
		return nil
	}
	delete(sess.Values, flashKey)
	var fs []Flash
	_ = json.Unmarshal([]byte(raw), &fs)
	return fs
}

// Persist stores a new session's row without setting a cookie (Rotate or
// Save sets it later), so that rows referencing the session can be written
// before the response is ready.
func (s *Store) Persist(r *http.Request, sess *sessions.Session) error {
	if sess.ID != "" {
		return nil
	}
	data, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	now := s.o.Now()
	id := newID()
	h := hashID(id)
	if err := db.New(s.pool).InsertSession(context.WithoutCancel(r.Context()), &db.SessionRow{IDHash: h, Kind: string(s.o.Kind),
		Data: s.sealer.Seal(data, h), CookieKeyID: s.keyIDs[0], Owner: ownerOf(sess), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.o.Absolute)}); err != nil {
		return err
	}
	sess.ID = id
	sess.IsNew = false
	return nil
}
