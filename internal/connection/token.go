package connection

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/internal/secret"
)

// quotes are what a pasted token may arrive wrapped in: straight, typographic
// (a word processor or chat client "fixed" them) and Markdown backticks.
const quotes = "\"'“”‘’`"

// CleanBasicToken undoes what copying a basic token tends to add: a leading
// "Basic " or "Bearer " (an Authorization value in some tools), surrounding
// quotes, surrounding white space, and white space or line breaks inside
// (a text field that wrapped it). None of these characters can occur in a
// JWT, so removing them never changes a real token.
func CleanBasicToken(s secret.Secret) secret.Secret {
	v := s.Reveal()
	for {
		before := v
		v = strings.TrimFunc(v, func(r rune) bool { return isSpace(r) || strings.ContainsRune(quotes, r) })
		for _, scheme := range []string{"basic", "bearer"} {
			if n := len(scheme); len(v) > n && strings.EqualFold(v[:n], scheme) && isSpace(rune(v[n])) {
				v = v[n+1:]
			}
		}
		if v == before {
			break
		}
	}
	return secret.New(strings.Map(func(r rune) rune {
		if isSpace(r) {
			return -1
		}
		return r
	}, v))
}

// isSpace is white space as text fields and chat clients produce it,
// including the zero-width characters that unicode.IsSpace leaves out.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff'
}

// tokenClaims is what Keyport can read from a basic token without checking
// its signature. It is used only to explain a refusal, never to decide who
// the user is: that comes from the bearer CXone returns.
type tokenClaims struct {
	TenantID   string
	TenantName string
	Expires    time.Time    // zero when the token has no exp
	Area       cxone.Region // "" unless the token names its area
}

// readClaims decodes the token's payload; ok is false when it has none
// Keyport can read (not a JWT, or claims of the wrong types).
func readClaims(raw string, areas []cxone.Region) (tokenClaims, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return tokenClaims{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return tokenClaims{}, false
	}
	id, err := cxone.DecodeClaims(payload)
	if err != nil {
		return tokenClaims{}, false
	}
	c := tokenClaims{TenantID: id.TenantID, TenantName: id.TenantName, Expires: id.Expires}
	// The contract promises no area claim in a basic token; when one is
	// there (an "area" claim as the discovery document and id tokens use,
	// or a host such as na1.nice-incontact.com), it is the tenant's area.
	var extra struct {
		Area     any `json:"area"`
		ICDomain any `json:"icDomain"`
		Issuer   any `json:"iss"`
	}
	_ = json.Unmarshal(payload, &extra) // DecodeClaims already read it as an object
	if s, ok := extra.Area.(string); ok {
		c.Area = knownArea(strings.ToLower(strings.TrimSpace(s)), areas)
	}
	for _, v := range []any{extra.ICDomain, extra.Issuer} {
		if s, ok := v.(string); ok && c.Area == "" {
			c.Area = areaOfHost(s, areas)
		}
	}
	return c, true
}

// areaOfHost is the area a CXone host names by its first label
// ("https://eu1.niceincontact.com" → eu1); "" for any other host.
func areaOfHost(s string, areas []cxone.Region) cxone.Region {
	host := s
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	host = strings.ToLower(host)
	if !strings.HasSuffix(host, ".nice-incontact.com") && !strings.HasSuffix(host, ".niceincontact.com") {
		return ""
	}
	label, _, _ := strings.Cut(host, ".")
	return knownArea(label, areas)
}

func knownArea(s string, areas []cxone.Region) cxone.Region {
	for _, a := range areas {
		if string(a) == s {
			return a
		}
	}
	return ""
}
