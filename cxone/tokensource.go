package cxone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

// TokenSource keeps one connection's bearer fresh. However many goroutines
// ask at once, at most one refresh runs (single-flight); once the refresh
// token is rejected, every caller gets an Unauthorized error wrapping
// ErrNeedBasicToken and no further refresh is tried.
type TokenSource struct {
	c         *Client
	region    Region
	onRefresh func(context.Context, *Tokens)

	mu       sync.Mutex
	cur      *Tokens
	inflight chan struct{} // closed when the running refresh ends
	dead     error
	lastErr  error // the last refresh's failure, for its waiters
}

// NewTokenSource starts from t (as returned by ExchangeBasicToken).
// onRefresh, if not nil, is called with every new set of tokens, so the
// caller can store the newest refresh token (rotation is assumed). Its
// context is the one of the call that started the refresh (without its
// cancellation), so what it records belongs to that request.
func NewTokenSource(c *Client, r Region, t *Tokens, onRefresh func(context.Context, *Tokens)) *TokenSource {
	return &TokenSource{c: c, region: r, cur: t, onRefresh: onRefresh}
}

// Tokens returns the current tokens.
func (ts *TokenSource) Tokens() *Tokens {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.cur
}

// renewMargin is how early a bearer is renewed: five minutes, or a fifth of
// its lifetime when that is shorter (so a 60 s test bearer is not renewed
// on every call).
func renewMargin(t *Tokens) time.Duration {
	life := t.AccessExpires.Sub(t.Obtained)
	return min(5*time.Minute, max(life/5, 0))
}

func (ts *TokenSource) fresh(t *Tokens) bool {
	return t != nil && !t.Access.IsZero() && ts.c.now().Before(t.AccessExpires.Add(-renewMargin(t)))
}

// Bearer returns a bearer valid for at least the renew margin, refreshing
// first if needed.
func (ts *TokenSource) Bearer(ctx context.Context) (secret.Secret, error) {
	t, err := ts.get(ctx, nil)
	if err != nil {
		return secret.Secret{}, err
	}
	return t.Access, nil
}

// Invalidate is called after CXone answered 401 to stale: the next Bearer
// refreshes unless another caller has already replaced stale.
func (ts *TokenSource) Invalidate(ctx context.Context, stale secret.Secret) (secret.Secret, error) {
	t, err := ts.get(ctx, &stale)
	if err != nil {
		return secret.Secret{}, err
	}
	return t.Access, nil
}

// Do runs fn with a fresh bearer and, if fn fails with Unauthorized,
// refreshes once and runs it again. Use it for idempotent calls only;
// never for CreateKey (cxone-api.md §6.4).
func (ts *TokenSource) Do(ctx context.Context, fn func(bearer secret.Secret) error) error {
	b, err := ts.Bearer(ctx)
	if err != nil {
		return err
	}
	err = fn(b)
	if KindOf(err) != Unauthorized {
		return err
	}
	if b, err = ts.Invalidate(ctx, b); err != nil {
		return err
	}
	return fn(b)
}

func (ts *TokenSource) get(ctx context.Context, stale *secret.Secret) (*Tokens, error) {
	ts.mu.Lock()
	if ts.dead != nil {
		ts.mu.Unlock()
		return nil, ts.dead
	}
	cur := ts.cur
	replaced := stale != nil && cur != nil && cur.Access.Reveal() != stale.Reveal()
	if ts.inflight == nil && (replaced || (stale == nil && ts.fresh(cur))) {
		ts.mu.Unlock()
		return cur, nil
	}
	wait := ts.inflight
	if wait == nil {
		wait = make(chan struct{})
		ts.inflight = wait
		go ts.refresh(ctx, cur, wait)
	}
	ts.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, &Error{Kind: Timeout, Op: "refresh token", Message: "call canceled", Err: ctx.Err()}
	}
	ts.mu.Lock()
	dead, now, lastErr := ts.dead, ts.cur, ts.lastErr
	ts.mu.Unlock()
	if dead != nil {
		return nil, dead
	}
	if now != cur {
		return now, nil
	}
	if lastErr != nil { // a transient failure: report it rather than loop
		return nil, lastErr
	}
	return nil, &Error{Kind: Unavailable, Op: "refresh token", Message: "the bearer could not be refreshed"}
}

// refresh runs detached from any one caller's cancellation, so a caller
// that gives up does not fail the others waiting on the same refresh.
func (ts *TokenSource) refresh(ctx context.Context, cur *Tokens, done chan struct{}) {
	ctx = context.WithoutCancel(ctx)
	var nt *Tokens
	var err error
	if cur == nil || cur.Refresh.IsZero() {
		err = &Error{Kind: Unauthorized, Op: "refresh token", Message: "no refresh token; a new basic token is needed", Err: ErrNeedBasicToken}
	} else if !cur.RefreshExpires.IsZero() && !ts.c.now().Before(cur.RefreshExpires) {
		err = &Error{Kind: Unauthorized, Op: "refresh token", Message: "the refresh token has expired; a new basic token is needed", Err: ErrNeedBasicToken}
	} else {
		nt, err = ts.c.Refresh(ctx, ts.region, cur.Refresh)
	}
	if err == nil && nt.Refresh.IsZero() {
		nt.Refresh, nt.RefreshExpires = cur.Refresh, cur.RefreshExpires
	}
	if err == nil && ts.onRefresh != nil {
		ts.onRefresh(ctx, nt) // before waiters proceed, so the newest refresh token is stored first
	}
	ts.mu.Lock()
	switch {
	case err == nil:
		ts.cur = nt
	case KindOf(err) == Unauthorized || KindOf(err) == BadRequest || KindOf(err) == Forbidden:
		var e *Error
		if errors.As(err, &e) && !errors.Is(err, ErrNeedBasicToken) {
			cp := *e
			cp.Message = "the refresh token was rejected; a new basic token is needed (" + e.Message + ")"
			cp.Kind = Unauthorized
			cp.Err = ErrNeedBasicToken
			err = &cp
		}
		ts.dead = err
	}
	ts.lastErr = err
	ts.inflight = nil
	close(done)
	ts.mu.Unlock()
}

// String, Format and LogValue keep the tokens out of every printed form:
// fmt cannot reach secret.Secret's own Format through unexported fields.
func (ts *TokenSource) String() string {
	return "cxone.TokenSource{region: " + string(ts.region) + ", tokens: [redacted]}"
}

func (ts *TokenSource) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, ts.String()) }

func (ts *TokenSource) LogValue() slog.Value { return slog.StringValue(ts.String()) }
