package audit

import "regexp"

// Identity is who an OpenID Connect provider said a reviewer is, as the
// trail keeps it for sign-ins, refusals and sign-outs (issue 16): never a
// token, only the ID token's issuer and subject, the email and the groups
// that granted access (or, for a refusal, the groups the person had).
type Identity struct {
	Issuer  string   `json:"issuer,omitempty"`
	Subject string   `json:"subject,omitempty"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// jwtLike is a JWT or JWE: what must never be stored even where a long
// opaque identifier is expected (Entra ID's subjects are 43 characters of
// base64url, which Scrub would take for a token).
var jwtLike = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.`)

func identityField(s string, n int) string {
	if jwtLike.MatchString(s) {
		return Redacted
	}
	return field(s, n) // Scrub (control characters, token-like runs), then the cap
}

func scrubIdentity(id *Identity) *Identity {
	if id == nil {
		return nil
	}
	out := &Identity{Issuer: identityField(id.Issuer, 512), Subject: subjectField(id.Subject),
		Email: identityField(id.Email, maxField)}
	for _, g := range id.Groups {
		if len(out.Groups) < 20 {
			out.Groups = append(out.Groups, identityField(g, maxField))
		}
	}
	return out
}

// subjectField keeps a subject whole (it identifies the person) unless it
// looks like a JWT, with control characters replaced and at most 255 bytes.
func subjectField(s string) string {
	if jwtLike.MatchString(s) {
		return Redacted
	}
	out := []rune{}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		out = append(out, r)
	}
	s = string(out)
	for len(s) > 255 {
		r := []rune(s)
		s = string(r[:len(r)-1])
	}
	return s
}
