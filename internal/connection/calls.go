package connection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// The one way to call CXone as a connection: a method per call, each
// with the connection's area, tenant and bearer. Reads and changes are
// replayed once after a 401 with a refreshed bearer; a create is sent once
// and never replayed (cxone-api.md §6).

// ListKeys lists the keys of userID, or of c's whole tenant when userID is
// "" (which needs the "Access Key" privilege).
func (s *Service) ListKeys(ctx context.Context, c Caller, userID string) (*cxone.KeyList, error) {
	var list *cxone.KeyList
	err := s.do(ctx, c, func(bearer secret.Secret) error {
		var err error
		list, err = s.cx.ListKeys(ctx, c.Conn.Region, bearer, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// GetKey reads one key. It may belong to another tenant: the caller checks.
func (s *Service) GetKey(ctx context.Context, c Caller, keyID string) (*cxone.AccessKey, error) {
	var k *cxone.AccessKey
	err := s.do(ctx, c, func(bearer secret.Secret) error {
		var err error
		k, err = s.cx.GetKey(ctx, c.Conn.Region, bearer, keyID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// SetActive deactivates or reactivates ownerUserID's key keyID in c's tenant.
func (s *Service) SetActive(ctx context.Context, c Caller, keyID, ownerUserID string, active bool) error {
	return s.do(ctx, c, func(bearer secret.Secret) error {
		return s.cx.SetActive(ctx, c.Conn.Region, bearer, keyID, c.Conn.TenantID, ownerUserID, active)
	})
}

// DeleteKey deletes a key.
func (s *Service) DeleteKey(ctx context.Context, c Caller, keyID string) error {
	return s.do(ctx, c, func(bearer secret.Secret) error {
		return s.cx.DeleteKey(ctx, c.Conn.Region, bearer, keyID)
	})
}

// ErrNotSent is wrapped by CreateKey's error when no create was sent at all
// (c had no usable bearer). Any other error is the create's own, whose
// cxone kind says whether CXone may have acted.
var ErrNotSent = errors.New("create not sent")

// CreateKey asks CXone to create a key for ownerUserID in c's tenant. It is
// sent once and never replayed, not even after a 401: the bearer is renewed
// then, so that the user's own retry works (cxone-api.md §6.4).
func (s *Service) CreateKey(ctx context.Context, c Caller, ownerUserID string) (*cxone.CreatedKey, error) {
	bearer, err := s.bearer(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	k, err := s.cx.CreateKey(ctx, c.Conn.Region, bearer, c.Conn.TenantID, ownerUserID)
	if cxone.KindOf(err) == cxone.Unauthorized {
		s.renew(ctx, c, bearer)
	}
	return k, err
}

// renew replaces a bearer CXone refused (unless another request already
// has). A refresh token CXone rejects ends the connection, as anywhere.
func (s *Service) renew(ctx context.Context, c Caller, stale secret.Secret) {
	ctx = context.WithValue(ctx, callerKey{}, c)
	ts, err := s.source(ctx, c.Conn)
	if err != nil {
		return
	}
	if _, err := ts.Invalidate(ctx, stale); err != nil {
		// The create's own 401 is what the caller reports; what counts here
		// is that a dead refresh token marks the connection expired.
		_ = s.refreshFailed(ctx, c, err)
	}
}

// TokenFromAccessKey asks CXone in region for a token with an access key,
// which is how a key is shown to work. It needs no connection's bearer.
func (s *Service) TokenFromAccessKey(ctx context.Context, region kp.Region, keyID string, keySecret secret.Secret) (*cxone.Tokens, error) {
	return s.cx.TokenFromAccessKey(ctx, region, keyID, keySecret)
}

// bearer returns a fresh bearer for c's connection, refreshing first if it
// is about to expire (once per connection, however many requests ask).
func (s *Service) bearer(ctx context.Context, c Caller) (secret.Secret, error) {
	ctx = context.WithValue(ctx, callerKey{}, c)
	ts, err := s.source(ctx, c.Conn)
	if err != nil {
		return secret.Secret{}, err
	}
	b, err := ts.Bearer(ctx)
	if err != nil {
		return secret.Secret{}, s.refreshFailed(ctx, c, err)
	}
	return b, nil
}

// do calls fn with a bearer; on a 401 it refreshes once and calls fn again.
// Only for idempotent calls: never for create.
func (s *Service) do(ctx context.Context, c Caller, fn func(bearer secret.Secret) error) error {
	ctx = context.WithValue(ctx, callerKey{}, c)
	ts, err := s.source(ctx, c.Conn)
	if err != nil {
		return err
	}
	err = ts.Do(ctx, fn)
	if errors.Is(err, cxone.ErrNeedBasicToken) {
		return s.refreshFailed(ctx, c, err)
	}
	return err
}

// ErrExpired is wrapped by the error returned once a connection cannot be
// refreshed: the handler asks for a new basic token, keeping the page.
var ErrExpired = errors.New("connection expired")

// refreshFailed reports a bearer that could not be had. A refresh token
// CXone rejected ends the connection: it is marked expired, and the error
// wraps ErrExpired.
func (s *Service) refreshFailed(ctx context.Context, c Caller, err error) error {
	if !errors.Is(err, cxone.ErrNeedBasicToken) {
		return UpstreamError(err, "refresh the CXone token")
	}
	ctx, conn := context.WithoutCancel(ctx), c.Conn
	if merr := db.New(s.pool).MarkConnectionExpired(ctx, conn.ID); merr != nil {
		s.log.ErrorContext(ctx, "mark connection expired", "err", merr)
	}
	conn.Expired = true
	s.forget(conn.ID)
	s.audit.Note(ctx, c.Event(kp.TokenRefresh, ""), audit.Result{Outcome: kp.OutcomeFailure, UpstreamStatus: upstreamStatus(err),
		Message: "refresh token rejected; a new basic token is needed"})
	return &kp.Error{Kind: kp.Unauthorized, Err: fmt.Errorf("%w: %w", ErrExpired, err),
		Message: fmt.Sprintf("Your connection to %s expired and CXone would not renew it. Paste a new basic token to continue.", conn.Label())}
}

// source returns the connection's token source, loading and unsealing its
// tokens on first use in this process.
func (s *Service) source(ctx context.Context, conn *Connection) (*cxone.TokenSource, error) {
	if conn.Expired {
		return nil, &kp.Error{Kind: kp.Unauthorized, Err: ErrExpired,
			Message: fmt.Sprintf("Your connection to %s has expired. Paste a new basic token to continue.", conn.Label())}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts := s.sources[conn.ID]; ts != nil {
		return ts, nil
	}
	row, err := db.New(s.pool).SessionConnectionByID(ctx, conn.ID)
	if err != nil {
		return nil, err
	}
	tokens, err := s.openTokens(row.Tokens, conn.ID)
	if err != nil {
		return nil, &kp.Error{Kind: kp.Unauthorized, Err: fmt.Errorf("%w: %w", ErrExpired, err),
			Message: "Keyport can no longer read this connection's tokens (the encryption key changed?). Paste a new basic token."}
	}
	id, region := conn.ID, conn.Region
	ts := cxone.NewTokenSource(s.cx, region, tokens, func(rctx context.Context, t *cxone.Tokens) {
		// Store the newest refresh token (rotation is assumed), off the
		// request's cancellation so a closed tab does not lose it. rctx is
		// the request that started the refresh: the event is its.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(rctx), 5*time.Second)
		defer cancel()
		if err := db.New(s.pool).UpdateConnectionTokens(sctx, id, s.sealTokens(t, id), t.AccessExpires, timePtr(t.RefreshExpires)); err != nil {
			s.log.ErrorContext(sctx, "store refreshed tokens", "err", err)
		}
		ev := audit.Event{Actor: conn.Actor(), Scope: audit.Scope{TenantID: conn.TenantID, TenantName: conn.TenantName,
			Region: conn.Region}, Action: kp.TokenRefresh}
		if c, ok := rctx.Value(callerKey{}).(Caller); ok {
			ev = c.Event(kp.TokenRefresh, "") // with the request's session, address and agent
		}
		s.audit.Note(sctx, ev, audit.Result{Outcome: kp.OutcomeSuccess})
	})
	s.sources[conn.ID] = ts
	return ts, nil
}

// callerKey carries the Caller whose request may start a refresh, so the
// token.refresh event is that request's, not the first one's.
type callerKey struct{}

func (s *Service) forget(id string) {
	s.mu.Lock()
	delete(s.sources, id)
	s.mu.Unlock()
}
