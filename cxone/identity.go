package cxone

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Identity is what Keyport reads from the bearer CXone returns (never from
// the pasted basic token): cxone-api.md §7.
type Identity struct {
	UserID       string
	TenantID     string
	TenantName   string
	DisplayName  string
	BusinessUnit string
	ClusterID    string
	AgentID      string
	Role         string
	Issuer       string
	Expires      time.Time // zero when the token has no exp
	IssuedAt     time.Time // zero when the token has no iat
	// Verified is true when the signature and issuer were checked against
	// the JWKS; false in decode-only mode or after a warn-mode failure.
	Verified bool
}

// DecodeClaims reads an Identity from a JWT's decoded payload (JSON). It
// checks no signature; it is the pure part that Verify builds on.
func DecodeClaims(payload []byte) (Identity, error) {
	var id Identity
	o, err := decodeObject(payload)
	if err != nil {
		return id, errors.New("claims are not a JSON object")
	}
	sub, err := o.str("sub")
	if err != nil {
		return id, err
	}
	if len(sub) >= 5 && strings.EqualFold(sub[:5], "user:") {
		sub = sub[5:]
	}
	if id.UserID, err = o.str("userId"); err != nil {
		return id, err
	}
	if id.UserID == "" {
		id.UserID = sub
	}
	if id.TenantID, err = o.str("tenantId"); err != nil {
		return id, err
	}
	if id.TenantName, err = o.str("tenant"); err != nil {
		return id, err
	}
	if id.DisplayName, err = o.str("name"); err != nil {
		return id, err
	}
	if id.DisplayName == "" {
		given, err1 := o.str("given_name")
		family, err2 := o.str("family_name")
		if err := errors.Join(err1, err2); err != nil {
			return id, err
		}
		id.DisplayName = strings.TrimSpace(given + " " + family)
	}
	if id.BusinessUnit, err = o.str("icBUId"); err != nil {
		return id, err
	}
	if id.ClusterID, err = o.str("icClusterId"); err != nil {
		return id, err
	}
	if id.AgentID, err = o.str("icAgentId"); err != nil {
		return id, err
	}
	if id.Issuer, err = o.str("iss"); err != nil {
		return id, err
	}
	if role, ok, err := o.sub("role"); err == nil && ok {
		id.Role, _ = role.str("legacyId")
	} else if err != nil {
		// role is display only; a string role is tolerated, anything else ignored
		id.Role, _ = o.str("role")
	}
	exp, ok, err := o.int("exp")
	if err != nil {
		return id, err
	}
	if ok && exp > 0 && exp < 1<<40 {
		id.Expires = time.Unix(exp, 0).UTC()
	}
	iat, ok, err := o.int("iat")
	if err != nil {
		return id, err
	}
	if ok && iat > 0 && iat < 1<<40 {
		id.IssuedAt = time.Unix(iat, 0).UTC()
	}
	for _, p := range []*string{&id.UserID, &id.TenantID, &id.TenantName, &id.DisplayName, &id.BusinessUnit, &id.ClusterID, &id.AgentID, &id.Role, &id.Issuer} {
		*p = Sanitize(*p)
	}
	return id, nil
}

// decodeJWT splits a compact JWT and decodes its claims without checking
// the signature.
func decodeJWT(token string) (Identity, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Identity{}, errors.New("token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Identity{}, errors.New("token payload is not base64url")
	}
	return DecodeClaims(payload)
}

// isJWT reports whether s has three base64url segments (cxone-api.md §5.1).
func isJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for _, r := range p {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// productionIssuers are the iss forms of cxone-api.md §7.
var productionIssuers = []string{
	"https://auth.nice-incontact.com",
	"https://cxone.niceincontact.com",
	"https://cxone-gov.niceincontact.com",
}

// verifier checks RS256 signatures and issuers against a JWKS.
type verifier struct {
	url     string
	mode    VerifyMode
	issuers []string
	origin  string // JWKS origin; issuers there are trusted when issuers was not configured
	c       *Client

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	all       []*rsa.PublicKey
	lastFetch time.Time
}

// jwksRefetchEvery limits refetches on an unknown kid (cxone-api.md §7).
const jwksRefetchEvery = 5 * time.Minute

func newVerifier(jwksURL string, mode VerifyMode, issuers []string, c *Client) *verifier {
	v := &verifier{url: jwksURL, mode: mode, issuers: slices.Clone(issuers), c: c}
	if len(v.issuers) == 0 {
		v.issuers = slices.Clone(productionIssuers)
		if u, err := url.Parse(jwksURL); err == nil {
			v.origin = u.Scheme + "://" + u.Host
		}
	}
	return v
}

func (v *verifier) issuerAllowed(iss string) bool {
	if slices.Contains(v.issuers, strings.TrimRight(iss, "/")) {
		return true
	}
	if v.origin == "" {
		return false
	}
	u, err := url.Parse(iss)
	return err == nil && u.Scheme+"://"+u.Host == v.origin
}

// verify checks token's signature (RS256 only) and issuer. A token without
// a kid is tried against every RSA key of the set.
func (v *verifier) verify(ctx context.Context, token string) error {
	var hdr struct {
		Kid string `json:"kid"`
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("token is not a JWT")
	}
	if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(h, &hdr) != nil {
		return errors.New("token header does not decode")
	}
	try := func() error {
		keys, err := v.keysFor(ctx, hdr.Kid, false)
		if err != nil {
			return err
		}
		return v.check(token, keys)
	}
	err := try()
	if errors.Is(err, errNoKey) || errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenUnverifiable) {
		// An unknown kid, or no kid and no key fits: the set may have rotated.
		keys, ferr := v.keysFor(ctx, hdr.Kid, true)
		if ferr == nil && len(keys) > 0 {
			err = v.check(token, keys)
		}
	}
	return err
}

var (
	errJWKSFetch = errors.New("JWKS could not be fetched")
	errIssuer    = errors.New("issuer not allowed")
	errNoKey     = errors.New("no JWKS key for this token")
)

func (v *verifier) check(token string, keys []*rsa.PublicKey) error {
	if len(keys) == 0 {
		return errNoKey
	}
	set := jwt.VerificationKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k)
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithLeeway(60*time.Second),
		jwt.WithTimeFunc(v.c.now), jwt.WithExpirationRequired())
	claims := jwt.MapClaims{}
	if _, err := p.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return set, nil }); err != nil {
		return err
	}
	iss, _ := claims["iss"].(string)
	if !v.issuerAllowed(iss) {
		return errIssuer
	}
	return nil
}

// keysFor returns the keys to try for kid ("" = all). With refetch, the
// set is fetched again unless it was fetched in the last five minutes.
func (v *verifier) keysFor(ctx context.Context, kid string, refetch bool) ([]*rsa.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.c.now()
	need := v.keys == nil || (refetch && now.Sub(v.lastFetch) >= jwksRefetchEvery)
	if refetch && !need {
		return nil, errNoKey
	}
	if need {
		v.lastFetch = now
		keys, all, err := v.fetch(ctx)
		if err != nil {
			return nil, err
		}
		v.keys, v.all = keys, all
	}
	if kid == "" {
		return v.all, nil
	}
	if k, ok := v.keys[kid]; ok {
		return []*rsa.PublicKey{k}, nil
	}
	return nil, errNoKey
}

func (v *verifier) fetch(ctx context.Context) (map[string]*rsa.PublicKey, []*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, v.c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, nil, errJWKSFetch
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", v.c.userAgent)
	resp, err := v.c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s", errJWKSFetch, Sanitize(errorText(err)))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%w: status %d", errJWKSFetch, resp.StatusCode)
	}
	var set struct {
		Keys []struct {
			Kty, Kid, N, E, Use string
		} `json:"keys"`
	}
	if json.Unmarshal(body, &set) != nil {
		return nil, nil, fmt.Errorf("%w: not a JWKS", errJWKSFetch)
	}
	keys := map[string]*rsa.PublicKey{}
	var all []*rsa.PublicKey
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			continue
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			continue
		}
		all = append(all, pub)
		if k.Kid != "" {
			keys[k.Kid] = pub
		}
	}
	return keys, all, nil
}

// identify decodes the access token (and the id token, whose userId wins)
// and, with a JWKS, verifies them. In warn mode a failure is logged and
// Verified stays false; in enforce mode it fails the call.
func (c *Client) identify(ctx context.Context, op, access, idToken string) (Identity, error) {
	id, err := decodeJWT(access)
	if err != nil {
		return id, fmt.Errorf("access token: %w", err)
	}
	if idToken != "" {
		if idt, err := decodeJWT(idToken); err == nil {
			if idt.UserID != "" {
				id.UserID = idt.UserID
			}
			id.TenantID = cmpOr(id.TenantID, idt.TenantID)
			id.TenantName = cmpOr(id.TenantName, idt.TenantName)
			id.DisplayName = cmpOr(id.DisplayName, idt.DisplayName)
			id.BusinessUnit = cmpOr(id.BusinessUnit, idt.BusinessUnit)
		}
	}
	if c.verifier == nil {
		return id, nil
	}
	verr := c.verifier.verify(ctx, access)
	if verr == nil && idToken != "" {
		verr = c.verifier.verify(ctx, idToken)
	}
	if verr == nil {
		id.Verified = true
		return id, nil
	}
	if c.verifier.mode == VerifyWarn {
		c.log.Warn("cxone token verification failed", "op", op, "err", Sanitize(verr.Error()))
		return id, nil
	}
	return id, &verifyError{verr}
}

type verifyError struct{ err error }

func (e *verifyError) Error() string { return "token verification failed: " + Sanitize(e.err.Error()) }
func (e *verifyError) Unwrap() error { return e.err }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
