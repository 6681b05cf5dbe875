package cxonesim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const pathKeys = "/access-key-management/v1/access-keys"

// Handler serves every area under /{region}/…, the global discovery and
// JWKS documents, the Generate Key page and the /control/ endpoints.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /{region}/public/user/refresh", s.endpoint(EndpointRefresh, s.userRefresh))
	mux.Handle("POST /{region}/authentication/v1/token/access-key", s.endpoint(EndpointToken, s.accessKeyToken))
	mux.Handle("POST /{region}"+pathKeys, s.endpoint(EndpointCreate, s.authed(s.createKey)))
	mux.Handle("GET /{region}"+pathKeys, s.endpoint(EndpointList, s.authed(s.listKeys)))
	mux.Handle("PATCH /{region}"+pathKeys, s.endpoint(EndpointPatch, s.authed(s.patchKey)))
	mux.Handle("GET /{region}"+pathKeys+"/{id}", s.endpoint(EndpointGet, s.authed(s.getKey)))
	mux.Handle("DELETE /{region}"+pathKeys+"/{id}", s.endpoint(EndpointDelete, s.authed(s.deleteKey)))
	mux.HandleFunc("GET /{region}/.well-known/cxone-configuration", s.areaConfiguration)
	mux.HandleFunc("GET /.well-known/cxone-configuration", s.cxoneConfiguration)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.openIDConfiguration)
	mux.HandleFunc("GET /auth/jwks", s.jwksHandler)
	mux.HandleFunc("GET /{region}/generate-key", s.generateKeyPage)
	mux.HandleFunc("POST /{region}/generate-key", s.generateKeyPage)
	mux.HandleFunc("GET /sim/static/copy.js", serveCopyJS)
	mux.HandleFunc("GET /{$}", s.indexPage)
	s.controlRoutes(mux)
	return s.saving(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

// writeError answers status with message in one of the §4 shapes.
func writeError(w http.ResponseWriter, r *http.Request, status int, shape Shape, msg string) int {
	code := strings.ReplaceAll(strings.ToUpper(http.StatusText(status)), " ", "_")
	oauthCode := strings.ToLower(code)
	if status == http.StatusBadRequest || status == http.StatusUnauthorized {
		oauthCode = "invalid_grant" // what OAuth token endpoints answer (cxone-api.md §4, §11.6)
	}
	switch shape {
	case ShapeOAuth:
		return writeJSON(w, status, map[string]any{"error": oauthCode, "error_description": msg})
	case ShapeOAuthCamel:
		return writeJSON(w, status, map[string]any{"error": oauthCode, "errorDescription": msg})
	case ShapeSpring:
		return writeJSON(w, status, map[string]any{"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000+00:00"),
			"status": status, "error": http.StatusText(status), "message": msg, "path": r.URL.Path})
	case ShapeDetails:
		return writeJSON(w, status, map[string]any{"code": code, "details": msg, "hostName": "cxonesim", "entityType": "AccessKey", "errors": ""})
	case ShapeErrorsObj:
		return writeJSON(w, status, map[string]any{"code": code, "hostname": "cxonesim", "errors": map[string]string{"userId": msg}})
	case ShapeMessage:
		return writeJSON(w, status, map[string]any{"message": msg})
	case ShapeMsg:
		return writeJSON(w, status, map[string]any{"msg": msg})
	case ShapeDetailed:
		return writeJSON(w, status, map[string]any{"detailedMessage": msg})
	case ShapeHeaderOnly:
		w.Header().Set("icStatusDescription", msg)
		w.WriteHeader(status)
		return status
	default: // ShapeEmpty
		w.WriteHeader(status)
		return status
	}
}

func (s *Sim) num(v Variants, n int64) any {
	if v.NumbersAsStrings {
		return strconv.FormatInt(n, 10)
	}
	return n
}

// ---- tokens ----

func (s *Sim) userRefresh(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(c.body, &in) != nil || in.Token == "" {
		writeError(w, r, http.StatusBadRequest, ShapeOAuth, "The request body must be {\"token\": \"…\"}")
		return
	}
	s.mu.Lock()
	jti, rec, err := s.checkTokenLocked(in.Token, "basic", "refresh")
	if err != nil || rec.region != c.region {
		s.mu.Unlock()
		writeError(w, r, http.StatusUnauthorized, ShapeOAuth, "The token is invalid, expired or already used")
		return
	}
	t := s.findTenant(rec.region, rec.tenantID)
	var u *User
	if t != nil {
		u = t.user(rec.userID)
	}
	if u == nil {
		s.mu.Unlock()
		writeError(w, r, http.StatusUnauthorized, ShapeOAuth, "The user no longer exists")
		return
	}
	if (rec.use == "basic" && !s.opts.ReusableBasicTokens) || (rec.use == "refresh" && s.opts.RotateRefreshTokens) {
		s.tokens[jti].revoked = true
	}
	bearer := s.issueLocked("access", t, u, s.opts.BearerLifetime, c.base)
	refresh := s.issueLocked("refresh", t, u, s.opts.RefreshLifetime, c.base)
	life := int64(s.opts.BearerLifetime / time.Second)
	s.mu.Unlock()
	out := map[string]any{"token": bearer, "tokenExpirationTimeSec": s.num(c.variants, life),
		"refreshToken": refresh, "refreshTokenExpirationTimeSec": s.num(c.variants, 0), "sessionId": nil}
	if c.variants.ExtraFields {
		out["sessionId"] = ""
		out["issuedAt"] = s.now().Unix()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) accessKeyToken(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		ID     string `json:"accessKeyId"`
		Secret string `json:"accessKeySecret"`
	}
	if json.Unmarshal(c.body, &in) != nil || in.ID == "" || in.Secret == "" {
		writeError(w, r, http.StatusBadRequest, ShapeOAuth, "accessKeyId and accessKeySecret are required")
		return
	}
	sum := sha256.Sum256([]byte(in.Secret))
	s.mu.Lock()
	var k *key
	var t *tenant
	for _, tt := range s.tenants {
		if tt.region != c.region {
			continue
		}
		for _, kk := range tt.keys {
			if kk.ID == in.ID {
				k, t = kk, tt
			}
		}
	}
	if k == nil || subtle.ConstantTimeCompare(sum[:], k.secretHash[:]) != 1 || !k.Active || t.user(k.UserID) == nil {
		s.mu.Unlock()
		writeError(w, r, http.StatusUnauthorized, ShapeOAuth, "The access key is invalid or inactive")
		return
	}
	now := s.now().UTC()
	k.LastUsed = &now
	u := t.user(k.UserID)
	access := s.issueLocked("access", t, u, s.opts.BearerLifetime, c.base)
	refresh := s.issueLocked("refresh", t, u, s.opts.RefreshLifetime, c.base)
	idt := s.issueLocked("id", t, u, s.opts.BearerLifetime, c.base)
	life, rlife := int64(s.opts.BearerLifetime/time.Second), int64(s.opts.RefreshLifetime/time.Second)
	s.mu.Unlock()
	v := c.variants
	out := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": s.num(v, life),
		"refresh_token": refresh, "refresh_token_expires_in": s.num(v, rlife), "id_token": idt}
	if v.CamelTokenKeys {
		out = map[string]any{"accessToken": access, "tokenType": "Bearer", "expiresIn": s.num(v, life),
			"refreshToken": refresh, "refreshTokenExpiresIn": s.num(v, rlife), "idToken": idt}
	}
	if v.ExtraFields {
		out["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
	}
	writeJSON(w, http.StatusOK, out)
}

// expirePresented revokes the token a call carries (bearer or body token).
func (s *Sim) expirePresented(r *http.Request, body []byte) {
	raw := bearerOf(r)
	if raw == "" {
		var in struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(body, &in)
		raw = in.Token
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if jti, _, err := s.checkTokenLocked(raw, "basic", "access", "refresh", "id"); err == nil {
		s.tokens[jti].revoked = true
	}
}

func bearerOf(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// ---- access-key management ----

// principal is the caller of an access-key-management call.
type principal struct {
	t *tenant
	u *User
}

// authLocked checks the bearer (cxone-api.md §11.5): missing, invalid,
// expired or from another area → 401.
// authed runs a key endpoint under the simulator's lock for an
// authenticated caller; authLocked has answered the others.
func (s *Sim) authed(fn func(http.ResponseWriter, *http.Request, *call, principal)) func(http.ResponseWriter, *http.Request, *call) {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if p, ok := s.authLocked(w, r, c); ok {
			fn(w, r, c, p)
		}
	}
}

func (s *Sim) authLocked(w http.ResponseWriter, r *http.Request, c *call) (principal, bool) {
	raw := bearerOf(r)
	if raw == "" {
		writeError(w, r, http.StatusUnauthorized, ShapeSpring, "Full authentication is required to access this resource")
		return principal{}, false
	}
	_, rec, err := s.checkTokenLocked(raw, "access")
	if err == errTokenExpired {
		writeError(w, r, http.StatusUnauthorized, ShapeSpring, "The bearer token has expired")
		return principal{}, false
	}
	if err != nil || rec.region != c.region {
		writeError(w, r, http.StatusUnauthorized, ShapeSpring, "The bearer token is invalid")
		return principal{}, false
	}
	t := s.findTenant(rec.region, rec.tenantID)
	if t == nil || t.user(rec.userID) == nil {
		writeError(w, r, http.StatusUnauthorized, ShapeSpring, "The bearer token is invalid")
		return principal{}, false
	}
	return principal{t: t, u: t.user(rec.userID)}, true
}

// mayActFor applies the two privileges: "My Access Key" for one's own
// keys, "Access Key" for other users' keys in the tenant.
func (p principal) mayActFor(userID string) bool {
	if strings.EqualFold(userID, p.u.ID) {
		return p.u.MyAccessKey || p.u.AccessKey
	}
	return p.u.AccessKey
}

const (
	msgNoPrivilege = "The user does not have the privilege required to manage this access key"
	msgTenant      = "The tenantId does not match the caller's tenant"
)

func (s *Sim) jwksHandler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[EndpointJWKS]++
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, jwks(&s.key.PublicKey, s.kid))
}

func (s *Sim) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(requestBase(r))
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": base, "token_endpoint": base + "/auth/token", "jwks_uri": base + "/auth/jwks",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "token", "id_token"},
		"subject_types_supported":               []string{"public"},
	})
}

func (s *Sim) cxoneConfiguration(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("tenantId")
	s.mu.Lock()
	var t *tenant
	for _, tt := range s.tenants {
		if strings.EqualFold(tt.id, id) {
			t = tt
		}
	}
	s.mu.Unlock()
	if t == nil {
		writeError(w, r, http.StatusNotFound, ShapeSpring, "Tenant not found")
		return
	}
	writeJSON(w, http.StatusOK, s.areaDoc(r, t.region, t))
}

func (s *Sim) areaConfiguration(w http.ResponseWriter, r *http.Request) {
	region := r.PathValue("region")
	if !s.knownRegion(region) {
		writeError(w, r, http.StatusNotFound, ShapeSpring, "Unknown area")
		return
	}
	writeJSON(w, http.StatusOK, s.areaDoc(r, region, nil))
}

func (s *Sim) areaDoc(r *http.Request, region string, t *tenant) map[string]any {
	base := s.baseURL(requestBase(r))
	m := map[string]any{"private": false, "area": region, "domain": "niceincontact.com",
		"acdDomain": "nice-incontact.com", "uhDomain": "nice-incontact.com",
		"ui_endpoint": base + "/" + region, "auth_endpoint": base + "/" + region, "api_endpoint": base + "/" + region}
	if t != nil {
		m["tenantId"] = t.id
		m["cluster"] = t.cluster
	}
	return m
}
