package reviewer

// Lock-out: what failed sign-ins do to the next attempt (docs/auditing.md).

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// ErrLocked answers attempts while a name is locked for the client's
// address, or the address is locked. It is the same for existing and
// unknown names (failures are counted per name tried), so it reveals nothing
// about which accounts exist.
//
// It tells the person who can lift it without saying which lock holds
// (the name's from this address, or the address's), which would tell a
// guesser whether moving helps: the operator finds that in the attempt's
// audit event, by the request id the page shows.
var ErrLocked = kp.Errorf(kp.RateLimited, "Too many failed sign-ins. Sign-in is paused for a while; try again later. "+
	"If you cannot wait, ask a Keyport operator: `keyport reviewer unlock` lifts the pause, and the request id below finds this attempt in the audit trail.")

// lockedOut returns why the attempt is locked out (its address, or its name
// from its address), or "". A name alone is never locked.
func (s *Service) lockedOut(ctx context.Context, a *signIn) (string, error) {
	for _, k := range []string{a.pairKey, a.ipKey} {
		st, err := a.q.ReviewerThrottle(ctx, k)
		if err != nil {
			return "", err
		}
		if st.LockedUntil != nil && st.LockedUntil.After(a.now) {
			if k == a.ipKey {
				return "locked out: too many failed sign-ins from this address", nil
			}
			return "locked out: too many failed sign-ins for this name from this address", nil
		}
	}
	return "", nil
}

// refuse records a refused attempt (a failure, or denied while locked) and
// counts it against the name from this address, the address, and the name
// from anywhere: locked or not, the same work. The answer is ErrLocked when
// the pair or the address is locked, else ErrSignIn; either waits the
// name's delay.
func (s *Service) refuse(ctx context.Context, a *signIn, o kp.Outcome, reason string) error {
	if err := s.record(ctx, a.actor, a.Scope, o, reason); err != nil {
		return err
	}
	locked, err := s.countFailure(ctx, a)
	if err != nil {
		return err
	}
	if locked || o == kp.OutcomeDenied {
		return ErrLocked
	}
	return ErrSignIn
}

// countFailure counts a refused attempt against the name from this address,
// the address, and the name from anywhere, then waits the name's delay. It
// reports whether the pair or the address is now locked.
func (s *Service) countFailure(ctx context.Context, a *signIn) (bool, error) {
	locked, nameFailures := false, 0
	for _, k := range []struct {
		key string
		max int
	}{{a.pairKey, s.o.MaxFailures}, {a.ipKey, s.o.MaxIPFailures}, {a.userKey, noLock}} {
		st, err := a.q.AddReviewerFailure(ctx, k.key, a.now, s.o.Window, s.o.Lockout, k.max)
		if err != nil {
			return false, err
		}
		if k.key == a.userKey {
			nameFailures = st.Failures
		} else {
			locked = locked || st.LockedUntil != nil
		}
	}
	s.slowDown(ctx, nameFailures)
	return locked, nil
}

// noLock is a failure count never reached: the name-wide count only slows.
const noLock = 1 << 30

// slowDown waits before a failed answer for a name that has failed more
// than SlowAfter times within the window: a guesser's answers come ever
// slower, the reviewer's right password from elsewhere is never held up.
func (s *Service) slowDown(ctx context.Context, failures int) {
	over := failures - s.o.SlowAfter
	if over <= 0 {
		return
	}
	d := s.o.MaxDelay
	if over < 16 && time.Second<<(over-1) < d {
		d = time.Second << (over - 1)
	}
	s.o.Sleep(ctx, d)
}

// Unlock lifts every lock and delay on a name (from any address), as
// `keyport reviewer unlock` does; reset-password does it too. It is
// audited as an enable with the step "unlock".
func (s *Service) Unlock(ctx context.Context, actor audit.Actor, username string) error {
	username = NormalizeUsername(username)
	ev := audit.Event{Actor: actor, Action: kp.ReviewerEnable, Details: audit.Details{Label: username, Step: "unlock"}}
	return s.w.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		return audit.Result{}, db.New(s.pool).ClearReviewerThrottles(ctx, username)
	})
}

// UnlockAddress lifts the sign-in locks of one client address: the
// address's own and those of every name tried from it, as `keyport reviewer
// unlock --address` does (an office behind one NAT address, locked by
// someone's mistakes). It is audited as an enable with the step "unlock
// address" and returns how many counts it removed.
func (s *Service) UnlockAddress(ctx context.Context, actor audit.Actor, address string) (int64, error) {
	address = strings.TrimSpace(address)
	addr, err := netip.ParseAddr(address)
	if err != nil {
		return 0, kp.Errorf(kp.Invalid, "%q is not an IP address.", address)
	}
	shown := addr.Unmap().WithZone("").String()
	spellings := []string{shown}
	if address != shown { // as a proxy wrote it in X-Forwarded-For, which the portal records
		spellings = append(spellings, address)
	}
	var n int64
	ev := audit.Event{Actor: actor, Action: kp.ReviewerEnable, Details: audit.Details{Label: "address " + shown, Step: "unlock address"}}
	err = s.w.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		var err error
		n, err = db.New(s.pool).ClearAddressThrottles(ctx, spellings)
		return audit.Result{Details: &audit.Details{Label: "address " + shown, Step: "unlock address", Count: n}}, err
	})
	return n, err
}

// LockedAddresses lists the addresses locked out now from which username
// failed to sign in: reset-password and unlock name them, leaving the
// decision to lift each to the operator (docs/auditing.md says why).
func (s *Service) LockedAddresses(ctx context.Context, username string) ([]string, error) {
	return db.New(s.pool).LockedAddressesOf(ctx, NormalizeUsername(username), s.o.Now())
}
