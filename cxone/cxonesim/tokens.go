package cxonesim

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The guide's example tokens start with this header, in this key order.
const (
	headerNoKid = `{"typ":"JWT","alg":"RS256"}`
	audience    = "inContact Evolve@inContact.com"
)

// issueLocked signs a token of the given use and records its jti. The
// access token's header has no kid, as in the vendor example; the others
// carry one. Callers hold s.mu.
func (s *Sim) issueLocked(use string, t *tenant, u *User, life time.Duration, base string) string {
	now := s.now().UTC()
	var j [12]byte
	for i := range j {
		j[i] = byte(s.rng.Uint32())
	}
	jti := base64.RawURLEncoding.EncodeToString(j[:])
	s.tokens[jti] = &tokenRec{use: use, region: t.region, tenantID: t.id, userID: u.ID, exp: now.Add(life)}
	if base == "" {
		base = "http://cxonesim.invalid"
	}
	iss := base // the "cxone.<env>.niceincontact.com" form
	if use == "access" {
		iss = base + "/auth" // the "auth.<env>.nice-incontact.com" form
	}
	given, family, _ := strings.Cut(u.Name, " ")
	claims := map[string]any{
		"iss": iss, "sub": "user:" + u.ID, "aud": audience, "iat": now.Unix(), "exp": now.Add(life).Unix(),
		"jti": jti, "tenantId": t.id, "tenant": t.name, "icBUId": t.bu, "icClusterId": t.cluster,
		"name": u.Email, "given_name": given, "family_name": family,
		"role":   map[string]any{"legacyId": u.Role, "id": "role-" + strings.ToLower(u.Role), "secondaryRoles": []string{}},
		"icSPId": "sim", "token_use": use,
	}
	if u.AgentID != 0 {
		claims["icAgentId"] = u.AgentID
	}
	if use == "id" {
		claims["userId"] = u.ID
		claims["icDomain"] = "sim.nice-incontact.com"
		claims["area"] = t.region
	}
	header := fmt.Sprintf(`{"typ":"JWT","alg":"RS256","kid":%q}`, s.kid)
	if use == "access" {
		header = headerNoKid
	}
	payload, _ := json.Marshal(claims) // a map of plain values cannot fail
	signing := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodRS256.Sign(signing, s.key)
	if err != nil {
		panic("cxonesim: sign: " + err.Error()) // an RSA key we generated cannot fail to sign
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

var (
	errTokenInvalid = errors.New("token is invalid")
	errTokenExpired = errors.New("token has expired")
)

// checkTokenLocked verifies signature, jti, use, expiry and revocation.
// Callers hold s.mu.
func (s *Sim) checkTokenLocked(raw string, uses ...string) (string, *tokenRec, error) {
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil }); err != nil {
		return "", nil, errTokenInvalid
	}
	jti, _ := claims["jti"].(string)
	rec := s.tokens[jti]
	if rec == nil || rec.revoked {
		return "", nil, errTokenInvalid
	}
	ok := false
	for _, u := range uses {
		ok = ok || rec.use == u
	}
	if !ok {
		return "", nil, errTokenInvalid
	}
	if !s.now().Before(rec.exp) {
		return "", nil, errTokenExpired
	}
	return jti, rec, nil
}

// jwks is the public half of the signing key as a JWK set.
func jwks(pub *rsa.PublicKey, kid string) map[string]any {
	e := big.NewInt(int64(pub.E)).Bytes()
	return map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(e),
	}}}
}
