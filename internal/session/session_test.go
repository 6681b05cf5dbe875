package session_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
	"github.com/keyport/keyport/internal/session"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T, pool *pgxpool.Pool, kind session.Kind, c *clock, secure bool) *session.Store {
	t.Helper()
	s, err := session.New(pool, keyring.New(secret.New("session-key-0123456789abcdef0123456789")), keyring.New(secret.New("encryption-key-0123456789abcdef012345")),
		session.Options{Kind: kind, Cookie: "keyport-" + string(kind), Secure: secure, Idle: 30 * time.Minute, Absolute: 8 * time.Hour, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// roundTrip saves a value in one request and returns the cookie it set.
func save(t *testing.T, s *session.Store, cookie *http.Cookie, set map[string]string) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	sess, err := s.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		sess.Values[k] = v
	}
	w := httptest.NewRecorder()
	if err := s.Save(r, w, sess); err != nil {
		t.Fatal(err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("%d cookies set", len(cs))
	}
	return cs[0]
}

func load(t *testing.T, s *session.Store, cookie *http.Cookie) (values map[interface{}]interface{}, isNew bool) {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	sess, err := s.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	return sess.Values, sess.IsNew
}

func TestSessionRoundTripAndCookieAttributes(t *testing.T) {
	pool := pgtest.NewPool(t)
	c := &clock{time.Now()}
	s := newStore(t, pool, session.Admin, c, true)
	ck := save(t, s, nil, map[string]string{"conn": "abc"})
	if ck.Name != "__Host-keyport-admin" || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("cookie = %+v", ck)
	}
	v, isNew := load(t, s, ck)
	if isNew || v["conn"] != "abc" {
		t.Fatalf("loaded %v (new %v)", v, isNew)
	}
	// The database holds neither the cookie's id nor the values in clear.
	var idHash, data []byte
	if err := pool.QueryRow(context.Background(), `SELECT id_hash, data FROM sessions`).Scan(&idHash, &data); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("abc")) || bytes.Contains(data, []byte("conn")) {
		t.Error("session values stored in clear")
	}
	if strings.Contains(ck.Value, string(idHash)) {
		t.Error("cookie carries the stored key")
	}
}

func TestInsecureCookieForDevelopmentHasNoHostPrefix(t *testing.T) {
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, session.Admin, &clock{time.Now()}, false)
	ck := save(t, s, nil, map[string]string{"a": "b"})
	if ck.Name != "keyport-admin" || ck.Secure {
		t.Fatalf("cookie = %+v", ck)
	}
}

func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	pool := pgtest.NewPool(t)
	c := &clock{time.Now()}
	s := newStore(t, pool, session.Admin, c, true)
	ck := save(t, s, nil, map[string]string{"a": "1"})
	c.t = c.t.Add(29 * time.Minute)
	if _, isNew := load(t, s, ck); isNew {
		t.Fatal("session lost before its idle timeout")
	}
	save(t, s, ck, nil) // activity
	c.t = c.t.Add(31 * time.Minute)
	if _, isNew := load(t, s, ck); !isNew {
		t.Fatal("session alive after 31 idle minutes")
	}
	c.t = time.Now()
	ck = save(t, s, nil, map[string]string{"a": "1"})
	for i := 0; i < 17; i++ { // active every 29 minutes for more than 8 hours
		c.t = c.t.Add(29 * time.Minute)
		if _, isNew := load(t, s, ck); isNew {
			if i < 16 {
				t.Fatalf("session ended after %d active half-hours", i+1)
			}
			return
		}
		save(t, s, ck, nil)
	}
	t.Fatal("session outlived its 8 h absolute lifetime")
}

func TestDestroyKillsReplayedCookie(t *testing.T) {
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, session.Admin, &clock{time.Now()}, true)
	ck := save(t, s, nil, map[string]string{"a": "1"})
	r := httptest.NewRequest("POST", "/logout", nil)
	r.AddCookie(ck)
	sess, _ := s.Load(r)
	w := httptest.NewRecorder()
	if err := s.Destroy(r, w, sess); err != nil {
		t.Fatal(err)
	}
	if got := w.Result().Cookies(); len(got) != 1 || got[0].MaxAge >= 0 {
		t.Errorf("logout cookie = %+v, want it expired", got)
	}
	if _, isNew := load(t, s, ck); !isNew {
		t.Fatal("a replayed cookie still opens the session after logout")
	}
	var n int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d session rows after logout", n)
	}
}

func TestRotateIssuesNewIDAndKillsTheOld(t *testing.T) {
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, session.Admin, &clock{time.Now()}, true)
	old := save(t, s, nil, map[string]string{"a": "1"})
	r := httptest.NewRequest("POST", "/connect", nil)
	r.AddCookie(old)
	sess, _ := s.Load(r)
	w := httptest.NewRecorder()
	if err := s.Rotate(r, w, sess); err != nil {
		t.Fatal(err)
	}
	fresh := w.Result().Cookies()[0]
	if fresh.Value == old.Value {
		t.Fatal("rotation kept the cookie value")
	}
	if v, isNew := load(t, s, fresh); isNew || v["a"] != "1" {
		t.Fatal("rotated session lost its values")
	}
	if _, isNew := load(t, s, old); !isNew {
		t.Fatal("the pre-rotation cookie still works")
	}
}

func TestKindsAreSeparate(t *testing.T) {
	pool := pgtest.NewPool(t)
	c := &clock{time.Now()}
	admin := newStore(t, pool, session.Admin, c, true)
	reviewer := newStore(t, pool, session.Reviewer, c, true)
	ck := save(t, admin, nil, map[string]string{"who": "admin"})
	forged := &http.Cookie{Name: reviewer.Name(), Value: ck.Value}
	if _, isNew := load(t, reviewer, forged); !isNew {
		t.Fatal("an admin session opened as a reviewer session")
	}
}

func TestTamperedCookieIsANewSession(t *testing.T) {
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, session.Admin, &clock{time.Now()}, true)
	ck := save(t, s, nil, map[string]string{"a": "1"})
	ck.Value = ck.Value[:len(ck.Value)-2] + "xx"
	if _, isNew := load(t, s, ck); !isNew {
		t.Fatal("a tampered cookie opened a session")
	}
}

func TestFlashesAreOneTime(t *testing.T) {
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, session.Admin, &clock{time.Now()}, true)
	r := httptest.NewRequest("GET", "/", nil)
	sess, _ := s.Load(r)
	session.AddFlash(sess, "success", "Key deactivated.")
	session.AddFlash(sess, "error", "Second.")
	fs := session.TakeFlashes(sess)
	if len(fs) != 2 || fs[0].Message != "Key deactivated." || fs[1].Kind != "error" {
		t.Fatalf("flashes = %+v", fs)
	}
	if len(session.TakeFlashes(sess)) != 0 {
		t.Fatal("flashes shown twice")
	}
}

// Each store's cleanup removes only its own kind's expired sessions, by its
// own idle limit: a reviewer store with a short idle limit neither keeps
// its sessions for the admin's longer limit nor deletes admin sessions.
func TestCleanupUsesEachKindsOwnLimits(t *testing.T) {
	pool := pgtest.NewPool(t)
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	admin := newStore(t, pool, session.Admin, c, true)
	reviewer, err := session.New(pool, keyring.New(secret.New("session-key-0123456789abcdef0123456789")), keyring.New(secret.New("encryption-key-0123456789abcdef012345")),
		session.Options{Kind: session.Reviewer, Cookie: "keyport-r", Secure: true, Idle: 15 * time.Minute, Absolute: 8 * time.Hour, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	save(t, admin, nil, map[string]string{"a": "1"})
	save(t, reviewer, nil, map[string]string{"r": "1"})
	c.t = c.t.Add(20 * time.Minute) // past the reviewer's idle limit, within the admin's
	if n, err := admin.Cleanup(context.Background()); err != nil || n != 0 {
		t.Fatalf("admin cleanup deleted %d (%v), want 0", n, err)
	}
	if n, err := reviewer.Cleanup(context.Background()); err != nil || n != 1 {
		t.Fatalf("reviewer cleanup deleted %d (%v), want the reviewer's 1", n, err)
	}
	var left []string
	rows, _ := pool.Query(context.Background(), `SELECT kind FROM sessions`)
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		left = append(left, k)
	}
	if strings.Join(left, ",") != "admin" {
		t.Fatalf("sessions left: %v, want the admin's only", left)
	}
}

// A session signed and sealed before a rotation stays signed in with the old
// keys second in the rings; its next response carries a cookie signed with
// the newest key, and the row records it, so once the old session key is
// retired the session still works.
func TestSessionSurvivesKeyRotation(t *testing.T) {
	pool := pgtest.NewPool(t)
	c := &clock{time.Now()}
	oldSK, newSK := secret.New("old-session-key-0123456789abcdef0123456"), secret.New("new-session-key-0123456789abcdef0123456")
	oldEK, newEK := secret.New("old-encryption-key-0123456789abcdef0123"), secret.New("new-encryption-key-0123456789abcdef0123")
	store := func(sk, ek keyring.Ring) *session.Store {
		s, err := session.New(pool, sk, ek, session.Options{Kind: session.Admin, Cookie: "keyport", Idle: 30 * time.Minute, Absolute: 8 * time.Hour, Now: c.now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cookieKey := func() string {
		var id string
		if err := pool.QueryRow(context.Background(), `SELECT cookie_key_id FROM sessions`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	before := store(keyring.New(oldSK), keyring.New(oldEK))
	ck := save(t, before, nil, map[string]string{"conn": "abc"})
	if got := cookieKey(); got != keyring.ID(oldSK) {
		t.Fatalf("cookie key id = %q, want the old key's %q", got, keyring.ID(oldSK))
	}

	during := store(keyring.New(newSK, oldSK), keyring.New(newEK, oldEK))
	if vals, isNew := load(t, during, ck); isNew || vals["conn"] != "abc" {
		t.Fatalf("the old cookie under the two-key rings: new %v, values %v", isNew, vals)
	}
	c.t = c.t.Add(time.Second) // nothing changed and the row was just seen: only the key forces the write
	ck2 := save(t, during, ck, nil)
	if ck2.Value == ck.Value || cookieKey() != keyring.ID(newSK) {
		t.Fatalf("the next response kept the old signature (cookie key id %q)", cookieKey())
	}

	after := store(keyring.New(newSK), keyring.New(newEK, oldEK))
	if _, isNew := load(t, after, ck); !isNew {
		t.Fatal("a cookie signed with a retired key still loads")
	}
	if vals, isNew := load(t, after, ck2); isNew || vals["conn"] != "abc" {
		t.Fatalf("the re-signed cookie without the old session key: new %v, values %v", isNew, vals)
	}
}
