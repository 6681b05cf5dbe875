// Package reviewer is the security reviewers' side of Keyport: their
// accounts (argon2id passwords, optional TOTP) and sign-in with its
// throttle and lock-out. What they read is the trail's read side, in
// package audit. Every change and every sign-in attempt is an audit event. It imports audit, db,
// kp, seal and secret; never handlers or web.
package reviewer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/seal"
	"github.com/keyport/keyport/internal/secret"
)

// Options tune the service; zero fields take the defaults.
type Options struct {
	Now    func() time.Time // the clock; tests move it
	Params Params           // argon2id cost for new hashes (and the dummy)
	// MaxFailures failed sign-ins to one account name from one client
	// address within Window lock that name for that address (only) for
	// Lockout. Default 5 in 15 min → 15 min. The right password from
	// another address still signs in.
	MaxFailures int
	// MaxIPFailures failed sign-ins from one address, whatever the names,
	// lock the address (default 20): one address guessing across names.
	MaxIPFailures int
	Window        time.Duration
	Lockout       time.Duration
	// SlowAfter failed sign-ins to one name from anywhere within Window
	// slow every failed answer for that name: 1 s, doubling per further
	// failure up to MaxDelay (default 10 failures, 8 s). A name is never
	// locked for everyone, so an attacker cannot lock a reviewer out.
	SlowAfter int
	MaxDelay  time.Duration
	// Sleep waits (tests record it instead).
	Sleep func(context.Context, time.Duration)
	// MaxConcurrentHashes bounds argon2 work in flight (each costs
	// Params.Memory), so a flood of sign-ins cannot exhaust memory. Default 4.
	MaxConcurrentHashes int
	Log                 *slog.Logger
	// LocalOff refuses every local account's sign-in and session
	// (KEYPORT_LOCAL_REVIEWERS=off: only OIDC reviewers, issue 16).
	LocalOff bool
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Params == (Params{}) {
		o.Params = DefaultParams
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.MaxIPFailures <= 0 {
		o.MaxIPFailures = 20
	}
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.Lockout <= 0 {
		o.Lockout = 15 * time.Minute
	}
	if o.SlowAfter <= 0 {
		o.SlowAfter = 10
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 8 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}
	if o.MaxConcurrentHashes <= 0 {
		o.MaxConcurrentHashes = 4
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Service manages reviewer accounts and sign-in.
type Service struct {
	pool   *pgxpool.Pool
	w      *audit.Writer
	totp   *seal.Sealer // nil: TOTP cannot be set up or checked
	o      Options
	dummy  func() string // a hash no password matches, for unknown names
	hashes chan struct{} // semaphore for argon2 work
	// hashCount counts password checks (tests compare locked and unlocked
	// answers' work).
	hashCount atomic.Int64
}

// New returns a Service. totp seals TOTP secrets (seal.New(encryption key,
// "totp")); nil disables TOTP: accounts that have it cannot sign in.
func New(pool *pgxpool.Pool, w *audit.Writer, totp *seal.Sealer, o Options) *Service {
	o.defaults()
	s := &Service{pool: pool, w: w, totp: totp, o: o, hashes: make(chan struct{}, o.MaxConcurrentHashes)}
	// Made on first use: every portal (and every test) builds a Service,
	// few of them see a sign-in.
	s.dummy = sync.OnceValue(func() string { return hashPassword(secret.New(string(newTOTPKey())), o.Params) })
	return s
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.o.Now() }

// NewTOTPSealer returns the sealer for TOTP secrets under the encryption
// key ring.
func NewTOTPSealer(encryptionKeys keyring.Ring) (*seal.Sealer, error) {
	return seal.New(encryptionKeys, seal.TOTP)
}

// Account is what `keyport reviewer list` shows.
type Account struct {
	Username    string
	Source      string // "local", or "oidc <issuer>" (issue 16)
	Subject     string // an OIDC reviewer's subject at the issuer
	TOTP        bool
	Disabled    bool
	CreatedAt   time.Time
	LastLoginAt *time.Time
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// NormalizeUsername lower-cases and trims a username, the form accounts,
// throttle keys and sessions use.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// MinPasswordLen is the shortest password accepted (NIST SP 800-63B asks
// at least 8; reviewers' accounts read the whole trail, so more).
const MinPasswordLen = 12

func checkNewPassword(p secret.Secret) error {
	if utf8.RuneCountInString(p.Reveal()) < MinPasswordLen {
		return kp.Errorf(kp.Invalid, "The password must be at least %d characters long.", MinPasswordLen)
	}
	if p.Len() > 1024 {
		return kp.Errorf(kp.Invalid, "The password is longer than 1024 bytes.")
	}
	return nil
}

// Enrolment is a new TOTP secret to hand to the reviewer once.
type Enrolment struct {
	URI secret.Secret // otpauth://… (carries the secret)
}

// Add creates an account. With withTOTP it also creates a TOTP secret and
// returns its enrolment. actor is who did it (the operator's system actor).
func (s *Service) Add(ctx context.Context, actor audit.Actor, username string, password secret.Secret, withTOTP bool) (*Enrolment, error) {
	username = NormalizeUsername(username)
	if !usernameRE.MatchString(username) {
		return nil, kp.Errorf(kp.Invalid, "A username is 1–64 characters: lower-case letters, digits and . _ @ -, starting with a letter or digit.")
	}
	if err := checkNewPassword(password); err != nil {
		return nil, err
	}
	if withTOTP && s.totp == nil {
		return nil, kp.Errorf(kp.Invalid, "TOTP needs KEYPORT_ENCRYPTION_KEY to seal its secret.")
	}
	var enrol *Enrolment
	ev := audit.Event{Actor: actor, Action: kp.ReviewerAdd, Details: audit.Details{Label: username, Step: totpLabel(withTOTP)}}
	err := s.w.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		now := s.o.Now()
		a := &db.Reviewer{Username: username, PasswordHash: hashPassword(password, s.o.Params), CreatedAt: now, UpdatedAt: now}
		var key []byte
		if withTOTP {
			key = newTOTPKey()
			a.TOTPSealed = s.totp.Seal(key, TOTPAAD(username))
		}
		if err := db.New(s.pool).InsertReviewer(ctx, a); err != nil {
			return audit.Result{}, err
		}
		if withTOTP {
			enrol = &Enrolment{URI: secret.New(otpauthURI(username, key))}
		}
		return audit.Result{Outcome: kp.OutcomeSuccess}, nil
	})
	return enrol, err
}

func totpLabel(on bool) string {
	if on {
		return "with totp"
	}
	return ""
}

// TOTPAAD binds a sealed TOTP secret to its account (`keyport rekey`
// re-seals with it). The prefix keeps the role's old name: secrets already
// sealed under it must still open.
func TOTPAAD(username string) []byte { return []byte("auditor totp:" + username) }

// List returns every account: the local ones, then those who signed in
// through OIDC.
func (s *Service) List(ctx context.Context) ([]Account, error) {
	rows, err := db.New(s.pool).ListReviewers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Account, len(rows))
	for i, r := range rows {
		out[i] = Account{Username: r.Username, Source: "local", TOTP: r.TOTPSealed != nil, Disabled: r.Disabled, CreatedAt: r.CreatedAt, LastLoginAt: r.LastLoginAt}
	}
	return s.listOIDC(ctx, out)
}

// SetDisabled disables (or re-enables) an account. A disabled reviewer's
// open sessions stop working at their next request (RequireActive).
func (s *Service) SetDisabled(ctx context.Context, actor audit.Actor, username string, disabled bool) error {
	username = NormalizeUsername(username)
	action := kp.ReviewerEnable
	if disabled {
		action = kp.ReviewerDisable
	}
	ev := audit.Event{Actor: actor, Action: action, Details: audit.Details{Label: username}}
	return s.w.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		return audit.Result{}, db.New(s.pool).SetReviewerDisabled(ctx, username, disabled, s.o.Now())
	})
}

// TOTPChange says what ResetPassword does to the second factor.
type TOTPChange int

const (
	TOTPKeep   TOTPChange = iota
	TOTPNew               // a fresh secret (re-enrol)
	TOTPRemove            // no second factor any more
)

// ResetPassword sets a new password and optionally a new (or no) TOTP
// secret, returning the new enrolment when there is one.
func (s *Service) ResetPassword(ctx context.Context, actor audit.Actor, username string, password secret.Secret, t TOTPChange) (*Enrolment, error) {
	username = NormalizeUsername(username)
	if err := checkNewPassword(password); err != nil {
		return nil, err
	}
	if t == TOTPNew && s.totp == nil {
		return nil, kp.Errorf(kp.Invalid, "TOTP needs KEYPORT_ENCRYPTION_KEY to seal its secret.")
	}
	step := map[TOTPChange]string{TOTPKeep: "", TOTPNew: "new totp", TOTPRemove: "totp removed"}[t]
	var enrol *Enrolment
	ev := audit.Event{Actor: actor, Action: kp.ReviewerResetPassword, Details: audit.Details{Label: username, Step: step}}
	err := s.w.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		var sealed []byte
		var key []byte
		if t == TOTPNew {
			key = newTOTPKey()
			sealed = s.totp.Seal(key, TOTPAAD(username))
		}
		q := db.New(s.pool)
		if err := q.SetReviewerPassword(ctx, username, hashPassword(password, s.o.Params), t != TOTPKeep, sealed, s.o.Now()); err != nil {
			return audit.Result{}, err
		}
		if err := q.ClearReviewerThrottles(ctx, username); err != nil { // a new password lifts the locks
			return audit.Result{}, err
		}
		if key != nil {
			enrol = &Enrolment{URI: secret.New(otpauthURI(username, key))}
		}
		return audit.Result{}, nil
	})
	return enrol, err
}

// ErrSignIn is the one answer to every failed sign-in: wrong password,
// unknown name, disabled account and wrong or missing code look alike.
var ErrSignIn = kp.Errorf(kp.Unauthorized, "Sign-in failed. Check your username, password and code, then try again.")

// Attempt is one sign-in attempt.
type Attempt struct {
	Username string
	Password secret.Secret
	TOTP     string
	Scope    audit.Scope // client address, user agent, session
}

// Session is what a reviewer's session keeps of a sign-in: the account and
// the stamp of its password at the time (see Stamp).
type Session struct {
	Username string
	Stamp    string
}

// Stamp identifies an account's password in its sessions without revealing
// it: a digest of the stored hash. Every password change (reset-password,
// with or without new TOTP, and the self-service change) writes a new hash
// with a fresh salt, so a session holding an older stamp fails RequireActive
// at its next request: a credential change ends every session (ASVS 7.4.3).
func Stamp(passwordHash string) string {
	sum := sha256.Sum256([]byte("keyport reviewer session stamp\x00" + passwordHash))
	return hex.EncodeToString(sum[:16])
}

// SignIn checks an attempt and returns the normalized username and stamp. Failures
// are ErrSignIn or ErrLocked whatever the reason; the reason goes to the
// audit trail. The work done is the same for every answer, locked or not:
// the throttle reads, one argon2id computation (against a dummy hash for
// unknown names) and, for accounts with TOTP, a code check; and every
// failed answer for a much-tried name waits the same growing delay.
func (s *Service) SignIn(ctx context.Context, at Attempt) (Session, error) {
	if s.o.LocalOff {
		return Session{}, s.refuseLocal(ctx, at)
	}
	dummy := s.dummy() // first, so the first attempt's timing does not depend on the name either
	name := NormalizeUsername(at.Username)
	if len(name) > 64 {
		name = name[:64]
	}
	a := &signIn{Attempt: at, name: name, actor: audit.Actor{Kind: kp.ActorReviewer, UserID: name, Name: name},
		q: db.New(s.pool), now: s.o.Now(), userKey: "user:" + name, ipKey: "ip:" + at.Scope.ClientIP,
		pairKey: "user@ip:" + name + "|" + at.Scope.ClientIP}
	locked, err := s.lockedOut(ctx, a)
	if err != nil {
		return Session{}, err
	}
	reason, step, err := s.refusal(ctx, a, dummy) // the same work when locked
	if err != nil {
		return Session{}, err
	}
	switch {
	case locked != "":
		return Session{}, s.refuse(ctx, a, kp.OutcomeDenied, locked)
	case reason != "":
		return Session{}, s.refuse(ctx, a, kp.OutcomeFailure, reason)
	}
	name, err = s.succeed(ctx, a, step)
	return Session{Username: name, Stamp: a.stamp}, err
}

// succeed records a sign-in: the TOTP step it used (refusing a code a
// concurrent sign-in took), the cleared counts of this name, and the event.
func (s *Service) succeed(ctx context.Context, a *signIn, step int64) (string, error) {
	if err := a.q.RecordReviewerLogin(ctx, a.name, step, a.now); kp.KindOf(err) == kp.Conflict {
		return "", s.refuse(ctx, a, kp.OutcomeFailure, "TOTP code already used")
	} else if err != nil {
		return "", err
	}
	for _, k := range []string{a.userKey, a.pairKey} {
		if err := a.q.ClearReviewerThrottle(ctx, k); err != nil {
			return "", err
		}
	}
	if err := s.record(ctx, a.actor, a.Scope, kp.OutcomeSuccess, ""); err != nil {
		return "", err
	}
	return a.name, nil
}

// signIn is one attempt being checked.
type signIn struct {
	Attempt
	name    string // normalized, at most 64 bytes
	actor   audit.Actor
	q       *db.Queries
	now     time.Time
	userKey string // throttle keys: the name tried (slows, never locks),
	ipKey   string // the client address (locks the address),
	pairKey string // and the name from this address (locks the pair)
	stamp   string // the account's password stamp, once found
}

// refusal checks the password (against dummy for an unknown name: the same
// work) and the code. It returns why the attempt is refused, or "" with the
// TOTP step the code matched.
func (s *Service) refusal(ctx context.Context, a *signIn, dummy string) (string, int64, error) {
	acct, err := a.q.ReviewerByUsername(ctx, a.name)
	if err != nil && kp.KindOf(err) != kp.NotFound {
		return "", 0, err
	}
	hash := dummy
	if acct != nil {
		hash, a.stamp = acct.PasswordHash, Stamp(acct.PasswordHash)
	}
	pwOK, herr := s.checkPassword(ctx, hash, a.Password)
	if herr != nil && !errors.Is(herr, errBadHash) {
		return "", 0, herr
	}
	step, totpOK := s.checkCode(ctx, a, acct)
	switch {
	case acct == nil:
		return "unknown username", 0, nil
	case herr != nil:
		return "stored password hash is malformed", 0, nil
	case !pwOK:
		return "wrong password", 0, nil
	case acct.Disabled:
		return "account disabled", 0, nil
	case !totpOK:
		return "wrong, reused or missing TOTP code", 0, nil
	}
	return "", step, nil
}

// checkCode checks the attempt's TOTP code for an account that has TOTP,
// returning the step it matched and whether it is newer than the last one
// used. An account without TOTP (or no account) needs no code.
func (s *Service) checkCode(ctx context.Context, a *signIn, acct *db.Reviewer) (int64, bool) {
	if acct == nil || acct.TOTPSealed == nil {
		return 0, true
	}
	if s.totp == nil {
		s.o.Log.ErrorContext(ctx, "reviewer has TOTP but no TOTP key is configured", "username", a.name)
		return 0, false
	}
	key, err := s.totp.Open(acct.TOTPSealed, TOTPAAD(a.name))
	if err != nil {
		return 0, false
	}
	step := checkTOTP(key, strings.TrimSpace(a.TOTP), a.now)
	return step, step > acct.TOTPLastStep
}

func (s *Service) record(ctx context.Context, actor audit.Actor, scope audit.Scope, o kp.Outcome, msg string) error {
	return s.w.Record(ctx, audit.Event{Actor: actor, Scope: scope, Action: kp.ReviewerLogin}, audit.Result{Outcome: o, Message: msg})
}

// checkPassword runs argon2id with at most MaxConcurrentHashes in flight.
func (s *Service) checkPassword(ctx context.Context, hash string, pw secret.Secret) (bool, error) {
	select {
	case s.hashes <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashes }()
	s.hashCount.Add(1)
	return checkPassword(hash, pw)
}

// RequireActive returns nil when username names an enabled account whose
// password stamp is still stamp: a signed-in reviewer's every request checks
// it, so disabling an account or changing its password ends its sessions at
// once.
func (s *Service) RequireActive(ctx context.Context, username, stamp string) error {
	if s.o.LocalOff {
		return ErrLocalOff
	}
	a, err := db.New(s.pool).ReviewerByUsername(ctx, username)
	if kp.KindOf(err) == kp.NotFound || err == nil && (a.Disabled || Stamp(a.PasswordHash) != stamp) {
		return kp.Errorf(kp.Unauthorized, "This reviewer session is no longer valid.")
	}
	return err
}

// Logout records a reviewer's sign-out.
func (s *Service) Logout(ctx context.Context, username string, scope audit.Scope) error {
	return s.w.Record(ctx, audit.Event{Actor: audit.Actor{Kind: kp.ActorReviewer, UserID: username, Name: username},
		Scope: scope, Action: kp.ReviewerLogout}, audit.Result{Outcome: kp.OutcomeSuccess})
}
