package cxone

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

// Tokens is what a token call returns. Refresh and ID may be zero.
type Tokens struct {
	Access, Refresh, ID secret.Secret
	// AccessExpires is the earlier of the bearer's exp and now + the stated
	// lifetime (cxone-api.md §7).
	AccessExpires time.Time
	// RefreshExpires is the refresh JWT's exp, else a positive stated
	// lifetime; zero means unknown (CXone sends 0 for "not stated").
	RefreshExpires time.Time
	// Obtained is when the response arrived; with AccessExpires it gives
	// the lifetime TokenSource renews against.
	Obtained time.Time
	Identity Identity
}

const (
	pathUserRefresh    = "/public/user/refresh"
	pathAccessKeyToken = "/authentication/v1/token/access-key"
)

// ExchangeBasicToken trades the basic token from CXone's Generate Key page
// for a bearer and a refresh token (POST /public/user/refresh). The basic
// token is trimmed, a leading "Bearer " is dropped, and anything that is
// not three base64url segments is refused locally with BadRequest.
func (c *Client) ExchangeBasicToken(ctx context.Context, r Region, basic secret.Secret) (*Tokens, error) {
	return c.userRefresh(ctx, r, basic, "exchange basic token")
}

// Refresh renews a bearer with a refresh token (the same endpoint). A 401
// means the refresh token is spent: ask the admin for a new basic token.
func (c *Client) Refresh(ctx context.Context, r Region, refresh secret.Secret) (*Tokens, error) {
	return c.userRefresh(ctx, r, refresh, "refresh token")
}

func (c *Client) userRefresh(ctx context.Context, r Region, tok secret.Secret, op string) (*Tokens, error) {
	raw := strings.TrimSpace(tok.Reveal())
	if len(raw) >= 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if !isJWT(raw) {
		return nil, &Error{Kind: BadRequest, Op: op, Message: "the token is not a JWT (three base64url segments); nothing was sent"}
	}
	u, err := c.url(r, pathUserRefresh, nil)
	if err != nil {
		return nil, err
	}
	req := request{op: op, method: http.MethodPost, region: r, rawURL: u,
		body: map[string]string{"token": raw}, idempotent: true}
	resp, err := c.do(ctx, req)
	var e *Error
	if errors.As(err, &e) && e.Kind == Unauthorized && e.Attempts > 1 {
		// cxone-api.md §3: the lost first attempt may have used the token up.
		e.Message += "; an earlier attempt may have used the token up, so a new basic token is needed"
	}
	if err != nil {
		return nil, err
	}
	return c.parseTokens(ctx, req, resp)
}

// TokenFromAccessKey obtains a token with an access key id and secret
// (POST /authentication/v1/token/access-key). Keyport uses it to verify a
// key: success means the key works; BadRequest, Unauthorized or Forbidden
// mean CXone rejected it. The caller should discard the returned tokens.
func (c *Client) TokenFromAccessKey(ctx context.Context, r Region, keyID string, keySecret secret.Secret) (*Tokens, error) {
	const op = "token from access key"
	if err := checkCredential("accessKeyId", keyID); err != nil {
		return nil, &Error{Kind: BadRequest, Op: op, Message: "invalid access key id: " + err.Error()}
	}
	if err := checkCredential("accessKeySecret", keySecret.Reveal()); err != nil {
		return nil, &Error{Kind: BadRequest, Op: op, Message: "invalid access key secret: " + err.Error()}
	}
	u, err := c.url(r, pathAccessKeyToken, nil)
	if err != nil {
		return nil, err
	}
	req := request{op: op, method: http.MethodPost, region: r, rawURL: u,
		body: map[string]string{"accessKeyId": keyID, "accessKeySecret": keySecret.Reveal()}, idempotent: true}
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	return c.parseTokens(ctx, req, resp)
}

// parseTokens reads either token shape: the camelCase one of
// /public/user/refresh and the OAuth snake_case one of the access-key
// endpoint, with the aliases of cxone-api.md §3.
func (c *Client) parseTokens(ctx context.Context, req request, resp *response) (*Tokens, error) {
	now := c.now()
	o, err := jsonBody(resp)
	if err != nil {
		return nil, shapeError(req, resp, err)
	}
	t, err := tokensFromObject(o, now)
	if err != nil {
		return nil, shapeError(req, resp, err)
	}
	id, err := c.identify(ctx, req.op, t.Access.Reveal(), t.ID.Reveal())
	if err != nil {
		var ve *verifyError
		if errors.As(err, &ve) {
			return nil, &Error{Kind: UnexpectedResponse, Op: req.op, Status: resp.status, CorrelationID: resp.corrID,
				Message: "CXone's token did not pass signature or issuer verification", Err: err}
		}
		return nil, shapeError(req, resp, err)
	}
	if id.UserID == "" || id.TenantID == "" {
		return nil, shapeError(req, resp, errors.New("token names no user or tenant"))
	}
	t.Identity = id
	if !id.Expires.IsZero() && (t.AccessExpires.IsZero() || id.Expires.Before(t.AccessExpires)) {
		t.AccessExpires = id.Expires
	}
	if t.AccessExpires.IsZero() {
		// Neither exp nor a lifetime: assume little, so it is renewed early.
		t.AccessExpires = now.Add(5 * time.Minute)
	}
	if rt := t.Refresh.Reveal(); rt != "" {
		if rid, err := decodeJWT(rt); err == nil && !rid.Expires.IsZero() {
			t.RefreshExpires = rid.Expires
		}
	}
	return t, nil
}

// tokensFromObject is the pure part of parseTokens (golden-tested).
func tokensFromObject(o object, now time.Time) (*Tokens, error) {
	t := &Tokens{Obtained: now}
	access, err := o.str("token", "access_token", "accessToken")
	if err != nil {
		return nil, err
	}
	if access == "" {
		return nil, errors.New(`no access token ("token" or "access_token")`)
	}
	if !isJWT(access) {
		return nil, errors.New("access token is not a JWT")
	}
	t.Access = secret.New(access)
	refresh, err := o.str("refreshToken", "refresh_token")
	if err != nil {
		return nil, err
	}
	t.Refresh = secret.New(refresh)
	idt, err := o.str("id_token", "idToken")
	if err != nil {
		return nil, err
	}
	t.ID = secret.New(idt)
	if tt, err := o.str("token_type", "tokenType"); err != nil {
		return nil, err
	} else if tt != "" && !strings.EqualFold(tt, "bearer") {
		return nil, errors.New(`field "token_type": not Bearer`)
	}
	if sec, ok, err := o.int("tokenExpirationTimeSec", "expires_in", "expiresIn", "accessTokenExpiry"); err != nil {
		return nil, err
	} else if ok && sec > 0 && sec < 1<<32 {
		t.AccessExpires = now.Add(time.Duration(sec) * time.Second)
	}
	if sec, ok, err := o.int("refreshTokenExpirationTimeSec", "refresh_token_expires_in", "refreshTokenExpiresIn"); err != nil {
		return nil, err
	} else if ok && sec > 0 && sec < 1<<32 { // 0 means "not stated" (cxone-api.md §5.1)
		t.RefreshExpires = now.Add(time.Duration(sec) * time.Second)
	}
	return t, nil
}
