package connection

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

var testAreas = []cxone.Region{"au1", "eu1", "na1", "uk1"}

// unsignedJWT is a token with the given claims and a dummy signature: what
// Keyport reads without verifying.
func unsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"typ":"JWT","alg":"RS256"}`)) + "." + enc(b) + "." + enc([]byte("signature"))
}

func TestCleanBasicTokenUndoesWhatCopyingAdds(t *testing.T) {
	const tok = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyOjEifQ.c2lnbmF0dXJl"
	for _, tc := range []struct{ name, pasted string }{
		{"as copied", tok},
		{"surrounded by white space and a newline", "  \t" + tok + "\r\n"},
		{"with a Basic prefix", "Basic " + tok},
		{"with a lower-case basic prefix and two spaces", "basic  " + tok},
		{"with a Bearer prefix", "Bearer " + tok},
		{"in straight double quotes", `"` + tok + `"`},
		{"in single quotes", "'" + tok + "'"},
		{"in typographic double quotes", "“" + tok + "”"},
		{"in typographic single quotes", "‘" + tok + "’"},
		{"in backticks", "```" + tok + "```"},
		{"a quoted Authorization value", `"Basic ` + tok + `"`},
		{"Basic before the quotes", `Basic "` + tok + `"`},
		{"wrapped by a text field", tok[:30] + "\n" + tok[30:60] + "\r\n" + tok[60:]},
		{"with a zero-width space and a no-break space inside", tok[:10] + "\u200b" + tok[10:20] + "\u00a0" + tok[20:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CleanBasicToken(secret.New(tc.pasted)).Reveal(); got != tok {
				t.Errorf("cleaned to %q, want the token", got)
			}
		})
	}
	if got := CleanBasicToken(secret.New(" “ ” ")).Reveal(); got != "" {
		t.Errorf("quotes alone cleaned to %q, want empty", got)
	}
	if got := CleanBasicToken(secret.New("Basically.a.b")).Reveal(); got != "Basically.a.b" {
		t.Errorf("a word starting with Basic lost its start: %q", got)
	}
}

func TestReadClaimsFindsTheAreaOnlyWhereTheTokenNamesIt(t *testing.T) {
	exp := time.Date(2026, 11, 29, 20, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   cxone.Region
	}{
		{"an area claim", map[string]any{"area": "NA1", "exp": exp.Unix()}, "na1"},
		{"an area Keyport does not know", map[string]any{"area": "zz9"}, ""},
		{"an issuer on an area host", map[string]any{"iss": "https://eu1.niceincontact.com"}, "eu1"},
		{"an icDomain on an area host", map[string]any{"icDomain": "au1.nice-incontact.com"}, "au1"},
		{"the global issuer names no area", map[string]any{"iss": "https://cxone.niceincontact.com"}, ""},
		{"a look-alike host is not CXone", map[string]any{"iss": "https://na1.evil.example"}, ""},
		{"no hint at all", map[string]any{"tenantId": "t-1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := readClaims(unsignedJWT(t, tc.claims), testAreas)
			if !ok || c.Area != tc.want {
				t.Errorf("readClaims = %+v, %v; want area %q", c, ok, tc.want)
			}
		})
	}
	if c, _ := readClaims(unsignedJWT(t, map[string]any{"exp": exp.Unix(), "tenantId": "t-1", "tenant": "Acme"}), testAreas); !c.Expires.Equal(exp) || c.TenantID != "t-1" || c.TenantName != "Acme" {
		t.Errorf("claims = %+v", c)
	}
	for _, bad := range []string{"not-a-jwt", "a.b", "eyJ.!!!.c", "eyJ." + base64.RawURLEncoding.EncodeToString([]byte(`[1]`)) + ".c"} {
		if _, ok := readClaims(bad, testAreas); ok {
			t.Errorf("readClaims(%q) ok, want not readable", bad)
		}
	}
}

func TestMalformedTokenSaysWhatWasPasted(t *testing.T) {
	for _, tc := range []struct{ name, raw, want string }{
		{"something else", "hello", "That is not a basic token"},
		{"an access key id", strings.Repeat("A", 52) + "====", "That is an access key id, not a basic token"},
		{"a token cut short", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIi", "it has 2 of its three dot-separated parts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := malformedToken(tc.raw, errors.New("not a JWT"))
			if err.Kind != kp.Invalid || !strings.Contains(err.Message, tc.want) || !strings.Contains(err.Message, "Nothing was sent") {
				t.Errorf("message %q (kind %v), want Invalid saying %q and that nothing was sent", err.Message, err.Kind, tc.want)
			}
			if strings.Contains(err.Message, "area") {
				t.Errorf("a token CXone never saw cannot be refused for its area: %q", err.Message)
			}
		})
	}
}

// TestRefusedTokenNamesThePossibleCauses: CXone answers one 401 for an
// expired, a used and another area's token; what the token says narrows
// the causes, and a new token is advised only where the area is ruled out
// or a new token is needed anyway.
func TestRefusedTokenNamesThePossibleCauses(t *testing.T) {
	now := time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)
	refused := &cxone.Error{Kind: cxone.Unauthorized, Status: 401, Message: "The token is invalid, expired or already used"}
	valid := tokenClaims{TenantID: "t-1", TenantName: "Acme NA1", Expires: now.Add(40 * time.Minute)}
	expired := tokenClaims{TenantID: "t-1", Expires: now.Add(-25 * time.Minute)}
	withArea := func(c tokenClaims, a cxone.Region) tokenClaims { c.Area = a; return c }
	for _, tc := range []struct {
		name      string
		f         refusalFacts
		want      []string
		never     []string
		wrongArea cxone.Region
	}{
		{"the token names another area",
			refusalFacts{claims: withArea(valid, "na1"), readable: true},
			[]string{"This token is for na1 (North America); you chose eu1 (Europe)", "paste the same token again", "may still work in na1"},
			[]string{"generate a new", "Generate a new"}, "na1"},
		{"this session reached the token's tenant in another area",
			refusalFacts{claims: valid, readable: true, knownArea: "na1"},
			[]string{"This token is for Acme NA1, which you connected to in na1 (North America); you chose eu1 (Europe)"},
			[]string{"generate a new"}, "na1"},
		{"an unexpired token naming no area: the area first",
			refusalFacts{claims: valid, readable: true},
			[]string{"It has not expired (it is valid until 20:40 UTC)", "the likeliest cause is the area", "for eu1 it starts with https://eu1.niceincontact.com", "If eu1 is your area, the token may have been used already", "only then generate a new one"},
			nil, ""},
		{"an unexpired token for the chosen area: used",
			refusalFacts{claims: withArea(valid, "eu1"), readable: true},
			[]string{"although it is for eu1 (Europe) and has not expired", "A basic token may work only once", "generate a new one"},
			[]string{"likeliest cause is the area"}, ""},
		{"an expired token: a new one is needed whatever the area",
			refusalFacts{claims: expired, readable: true},
			[]string{"it expired at 19:35 UTC, 25 minutes ago", "generate a new one", "Choose the area your tenant is in"},
			nil, ""},
		{"an expired token of another area: both",
			refusalFacts{claims: withArea(expired, "na1"), readable: true},
			[]string{"it expired at 19:35 UTC", "It is also for na1 (North America), not eu1: choose na1 with the new token"},
			nil, ""},
		{"a token without readable claims: every cause, the area first",
			refusalFacts{},
			[]string{"Either eu1 is not your tenant's area", "expired or was used already", "Check the area first"},
			nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.chosen, tc.f.chosenURL, tc.f.now = "eu1", "https://eu1.niceincontact.com", now
			err := refusedToken(tc.f, refused)
			if err.Kind != kp.Unauthorized {
				t.Errorf("kind %v, want unauthorized", err.Kind)
			}
			for _, w := range append(tc.want, "CXone said (HTTP 401): The token is invalid") {
				if !strings.Contains(err.Message, w) {
					t.Errorf("message lacks %q:\n%s", w, err.Message)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(err.Message, n) {
					t.Errorf("message says %q:\n%s", n, err.Message)
				}
			}
			var wa *WrongArea
			if got := errors.As(err, &wa); got != (tc.wrongArea != "") || got && (wa.TokenArea != tc.wrongArea || wa.Chosen != "eu1") {
				t.Errorf("WrongArea = %v %+v, want area %q", got, wa, tc.wrongArea)
			}
			if !errors.Is(err, refused) {
				t.Error("the refusal no longer wraps CXone's error")
			}
		})
	}
}

func TestAgoIsRough(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Second: "less than a minute", time.Minute: "1 minute", 25 * time.Minute: "25 minutes",
		3 * time.Hour: "3 hours", 72 * time.Hour: "3 days",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}
