package reviewer

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// fastParams keep tests quick; production uses DefaultParams.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1}

func randomSecret(t testing.TB) secret.Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secret.New(string(b))
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	pool *pgxpool.Pool
	w    *audit.Writer
	svc  *Service
	clk  *clock
}

func newFixture(t testing.TB, o Options) *fixture {
	t.Helper()
	pool := pgtest.NewPool(t)
	keys, err := audit.DeriveKeys(keyring.New(randomSecret(t)))
	if err != nil {
		t.Fatal(err)
	}
	w := audit.NewWriter(pool, keys, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sealer, err := NewTOTPSealer(keyring.New(randomSecret(t)))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	o.Now, o.Params = clk.Now, fastParams
	return &fixture{pool: pool, w: w, svc: New(pool, w, sealer, o), clk: clk}
}

var operator = audit.Actor{Kind: kp.ActorSystem, UserID: "cli", Name: "keyport auditor"}

// add creates an account and returns its TOTP key (nil without TOTP).
func (f *fixture) add(t testing.TB, name, pw string, totp bool) []byte {
	t.Helper()
	enrol, err := f.svc.Add(context.Background(), operator, name, secret.New(pw), totp)
	if err != nil {
		t.Fatal(err)
	}
	if !totp {
		return nil
	}
	u, err := url.Parse(enrol.URI.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	key, err := b32.DecodeString(u.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func (f *fixture) signIn(name, pw, code, ip string) (string, error) {
	s, err := f.svc.SignIn(context.Background(), Attempt{Username: name, Password: secret.New(pw), TOTP: code,
		Scope: audit.Scope{ClientIP: ip}})
	return s.Username, err
}

// RFC 6238 appendix B, SHA-1 rows, truncated to 6 digits.
func TestTOTPMatchesRFC6238Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := totpCode(key, totpStep(time.Unix(tc.unix, 0))); got != tc.want {
			t.Errorf("t=%d: got %s, want %s", tc.unix, got, tc.want)
		}
	}
	now := time.Unix(1111111109, 0)
	for _, d := range []int64{-1, 0, 1} {
		if step := checkTOTP(key, totpCode(key, totpStep(now)+d), now); step != totpStep(now)+d {
			t.Errorf("skew %d: step %d", d, step)
		}
	}
	if step := checkTOTP(key, totpCode(key, totpStep(now)+2), now); step != 0 {
		t.Errorf("a code two steps ahead was accepted")
	}
}

func TestPasswordHashRoundTripAndEncoding(t *testing.T) {
	h := hashPassword(secret.New("correct horse battery"), fastParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoded hash %q", h)
	}
	if h2 := hashPassword(secret.New("correct horse battery"), fastParams); h2 == h {
		t.Fatal("two hashes of one password are equal: no per-user salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := checkPassword(h, secret.New(pw)); ok != want || err != nil {
			t.Errorf("check %q = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if _, err := checkPassword("$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", secret.New("x")); !errors.Is(err, errBadHash) {
		t.Errorf("a hash asking for 95 GiB was not refused: %v", err)
	}
}

// Wrong password, unknown user, disabled account and wrong TOTP must be
// indistinguishable to the person signing in.
func TestEveryFailedSignInGivesTheSameAnswer(t *testing.T) {
	f := newFixture(t, Options{MaxFailures: 100, MaxIPFailures: 100})
	const pw = "a long enough password"
	f.add(t, "alice", pw, false)
	f.add(t, "dora", pw, false)
	key := f.add(t, "tom", pw, true)
	if err := f.svc.SetDisabled(context.Background(), operator, "dora", true); err != nil {
		t.Fatal(err)
	}
	good := totpCode(key, totpStep(f.clk.Now()))
	wrong := totpCode(key, totpStep(f.clk.Now())+5)
	for _, tc := range []struct{ name, user, pw, code string }{
		{"wrong password", "alice", "not the password!", ""},
		{"unknown user", "mallory", pw, ""},
		{"disabled account", "dora", pw, ""},
		{"wrong TOTP code", "tom", pw, wrong},
		{"missing TOTP code", "tom", pw, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.signIn(tc.user, tc.pw, tc.code, "192.0.2.1")
			if err != ErrSignIn || kp.MessageOf(err) != kp.MessageOf(ErrSignIn) {
				t.Fatalf("got %v, want the generic ErrSignIn", err)
			}
		})
	}
	if name, err := f.signIn("Tom ", pw, good, "192.0.2.1"); err != nil || name != "tom" {
		t.Fatalf("good sign-in: %q, %v", name, err)
	}
	if _, err := f.signIn("tom", pw, good, "192.0.2.1"); err != ErrSignIn {
		t.Fatalf("a replayed TOTP code was accepted: %v", err)
	}
	if name, err := f.signIn("alice", pw, "", "192.0.2.1"); err != nil || name != "alice" {
		t.Fatalf("alice: %q, %v", name, err)
	}
	// Every attempt is in the trail, with its real reason for reviewers.
	rows, err := f.pool.Query(context.Background(), `SELECT outcome, error_message FROM audit_events WHERE action = 'auditor.login' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct{ outcome, msg string }
	var got []rec
	for rows.Next() {
		var r rec
		if err := rows.Scan(&r.outcome, &r.msg); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []rec{{"failure", "wrong password"}, {"failure", "unknown username"}, {"failure", "account disabled"},
		{"failure", "wrong, reused or missing TOTP code"}, {"failure", "wrong, reused or missing TOTP code"},
		{"success", ""}, {"failure", "wrong, reused or missing TOTP code"}, {"success", ""}}
	if len(got) != len(want) {
		t.Fatalf("login events = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("login event %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestLockOutEngagesAfterMaxFailuresAndLiftsAfterItsTime(t *testing.T) {
	f := newFixture(t, Options{MaxFailures: 3, MaxIPFailures: 100, Window: 10 * time.Minute, Lockout: 15 * time.Minute})
	const pw = "a long enough password"
	f.add(t, "alice", pw, false)
	for i := 1; i <= 2; i++ {
		if _, err := f.signIn("alice", "wrong password!!", "", "192.0.2.1"); err != ErrSignIn {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := f.signIn("alice", "wrong password!!", "", "192.0.2.1"); err != ErrLocked {
		t.Fatalf("third failure: %v, want ErrLocked", err)
	}
	// Locked for that address only: the right password from there is refused.
	if _, err := f.signIn("alice", pw, "", "192.0.2.1"); err != ErrLocked {
		t.Fatalf("during lock-out: %v, want ErrLocked", err)
	}
	// Unknown names lock the same way: a lock-out reveals no account.
	for i := 0; i < 3; i++ {
		_, _ = f.signIn("nobody", "wrong password!!", "", "192.0.2.9")
	}
	if _, err := f.signIn("nobody", "wrong password!!", "", "192.0.2.9"); err != ErrLocked {
		t.Fatalf("unknown name: %v, want ErrLocked", err)
	}
	f.clk.Add(14 * time.Minute)
	if _, err := f.signIn("alice", pw, "", "192.0.2.1"); err != ErrLocked {
		t.Fatalf("one minute before the end: %v, want ErrLocked", err)
	}
	f.clk.Add(time.Minute + time.Second)
	if name, err := f.signIn("alice", pw, "", "192.0.2.1"); err != nil || name != "alice" {
		t.Fatalf("after the lock-out: %q, %v", name, err)
	}
	// Success cleared the name's count: two more failures do not lock.
	for i := 0; i < 2; i++ {
		if _, err := f.signIn("alice", "wrong password!!", "", "192.0.2.1"); err != ErrSignIn {
			t.Fatalf("fresh failure %d: %v", i, err)
		}
	}
	var denied int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE action = 'auditor.login' AND outcome = 'denied'`).Scan(&denied); err != nil || denied != 3 {
		t.Fatalf("denied login events = %d, %v; want 3", denied, err)
	}
}

// Thirty wrong passwords for a reviewer from one address do not lock the
// reviewer out: the right password from another address signs in at once,
// with no delay. The guesser's answers slow down; locked and unlocked
// failures wait alike; reset-password and unlock lift everything.
func TestLockOutProtectsTheReviewerNotTheAttacker(t *testing.T) {
	var mu sync.Mutex
	var waits []time.Duration
	o := Options{MaxFailures: 5, MaxIPFailures: 100, SlowAfter: 10, MaxDelay: 8 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() }}
	f := newFixture(t, o)
	const pw = "a long enough password"
	f.add(t, "alice", pw, false)
	answers := map[error]int{}
	for range 30 {
		_, err := f.signIn("alice", "wrong password!!", "", "203.0.113.66")
		answers[err]++
	}
	if answers[ErrSignIn] != 4 || answers[ErrLocked] != 26 {
		t.Fatalf("answers to 30 guesses from one address: %v, want 4 refusals then the pair locked", answers)
	}
	mu.Lock()
	guesses := append([]time.Duration(nil), waits...)
	waits = nil
	mu.Unlock()
	if len(guesses) == 0 || guesses[len(guesses)-1] != 8*time.Second {
		t.Fatalf("the guesser's answers were not slowed to the cap: %v", guesses)
	}
	if name, err := f.signIn("alice", pw, "", "198.51.100.7"); err != nil || name != "alice" {
		t.Fatalf("the right password from another address: %q, %v", name, err)
	}
	mu.Lock()
	if len(waits) != 0 {
		t.Fatalf("the reviewer's own sign-in waited %v", waits)
	}
	mu.Unlock()
	// Still locked for the guesser's address; an operator lifts it.
	if _, err := f.signIn("alice", pw, "", "203.0.113.66"); err != ErrLocked {
		t.Fatalf("the guesser's address after the reviewer signed in: %v, want ErrLocked", err)
	}
	if err := f.svc.Unlock(context.Background(), operator, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.signIn("alice", pw, "", "203.0.113.66"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	for range 5 {
		_, _ = f.signIn("alice", "wrong password!!", "", "203.0.113.67")
	}
	if _, err := f.svc.ResetPassword(context.Background(), operator, "alice", secret.New("another long password"), TOTPKeep); err != nil {
		t.Fatal(err)
	}
	if _, err := f.signIn("alice", "another long password", "", "203.0.113.67"); err != nil {
		t.Fatalf("after reset-password: %v", err)
	}
}

// A locked answer does the same work as an unlocked one: a password hash.
func TestLockedAnswersDoTheSameWork(t *testing.T) {
	f := newFixture(t, Options{MaxFailures: 2, MaxIPFailures: 100})
	f.add(t, "alice", "a long enough password", false)
	hashes := func() int64 { return f.svc.hashCount.Load() }
	_, _ = f.signIn("alice", "wrong password!!", "", "192.0.2.1")
	before := hashes()
	if _, err := f.signIn("alice", "wrong password!!", "", "192.0.2.1"); err != ErrLocked {
		t.Fatalf("second failure: %v", err)
	}
	locked := hashes() - before
	before = hashes()
	if _, err := f.signIn("alice", "wrong password!!", "", "192.0.2.1"); err != ErrLocked {
		t.Fatalf("while locked: %v", err)
	}
	if got := hashes() - before; got != locked || got != 1 {
		t.Fatalf("a locked answer computed %d hashes, an unlocked failure %d; want 1 each", got, locked)
	}
}

func TestLockOutPerAddressAcrossNames(t *testing.T) {
	f := newFixture(t, Options{MaxFailures: 100, MaxIPFailures: 4})
	const pw = "a long enough password"
	f.add(t, "alice", pw, false)
	for i, name := range []string{"a1", "a2", "a3"} {
		if _, err := f.signIn(name, "wrong password!!", "", "203.0.113.5"); err != ErrSignIn {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := f.signIn("a4", "wrong password!!", "", "203.0.113.5"); err != ErrLocked {
		t.Fatalf("fourth failure from one address: %v, want ErrLocked", err)
	}
	if _, err := f.signIn("alice", pw, "", "203.0.113.5"); err != ErrLocked {
		t.Fatalf("right password from the locked address: %v, want ErrLocked", err)
	}
	if _, err := f.signIn("alice", pw, "", "203.0.113.6"); err != nil {
		t.Fatalf("from another address: %v", err)
	}
}

func TestAccountChangesAreAudited(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	f.add(t, "alice", "a long enough password", false)
	if _, err := f.svc.Add(ctx, operator, "alice", secret.New("another long password"), false); kp.KindOf(err) != kp.Conflict {
		t.Fatalf("duplicate add: %v", err)
	}
	if _, err := f.svc.Add(ctx, operator, "bob", secret.New("short"), false); kp.KindOf(err) != kp.Invalid {
		t.Fatalf("short password: %v", err)
	}
	if err := f.svc.SetDisabled(ctx, operator, "alice", true); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RequireActive(ctx, "alice", ""); kp.KindOf(err) != kp.Unauthorized {
		t.Fatalf("disabled account active: %v", err)
	}
	if err := f.svc.SetDisabled(ctx, operator, "alice", false); err != nil {
		t.Fatal(err)
	}
	enrol, err := f.svc.ResetPassword(ctx, operator, "alice", secret.New("a brand new password"), TOTPNew)
	if err != nil || enrol == nil || !strings.HasPrefix(enrol.URI.Reveal(), "otpauth://totp/Keyport:alice?") {
		t.Fatalf("reset: %v, %v", enrol, err)
	}
	if err := f.svc.SetDisabled(ctx, operator, "ghost", true); kp.KindOf(err) != kp.NotFound {
		t.Fatalf("disable unknown: %v", err)
	}
	accts, err := f.svc.List(ctx)
	if err != nil || len(accts) != 1 || !accts[0].TOTP || accts[0].Disabled {
		t.Fatalf("list = %+v, %v", accts, err)
	}
	rows, err := f.pool.Query(ctx, `SELECT action || ':' || outcome FROM audit_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		got = append(got, s)
	}
	want := "auditor.add:intent auditor.add:success auditor.add:intent auditor.add:failure " +
		"auditor.disable:intent auditor.disable:success auditor.enable:intent auditor.enable:success " +
		"auditor.reset_password:intent auditor.reset_password:success auditor.disable:intent auditor.disable:failure"
	if strings.Join(got, " ") != want {
		t.Fatalf("events:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	var hash string
	if err := f.pool.QueryRow(ctx, `SELECT password_hash FROM reviewers WHERE username = 'alice'`).Scan(&hash); err != nil || strings.Contains(hash, "brand new") {
		t.Fatalf("stored hash %q, %v", hash, err)
	}
}
