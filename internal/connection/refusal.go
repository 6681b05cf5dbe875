package connection

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/internal/kp"
)

// WrongArea is the cause of a refusal whose basic token belongs to another
// area than the one chosen: the connect page offers that area.
type WrongArea struct {
	TokenArea, Chosen cxone.Region
	Err               error
}

func (e *WrongArea) Error() string {
	return fmt.Sprintf("token is for %s, %s was chosen: %v", e.TokenArea, e.Chosen, e.Err)
}

func (e *WrongArea) Unwrap() error { return e.Err }

// refusalFacts is what Keyport knows when CXone refuses a basic token.
type refusalFacts struct {
	chosen    cxone.Region
	chosenURL string       // the chosen area's address, as configured
	claims    tokenClaims  // read without verifying the signature
	readable  bool         // claims could be read at all
	knownArea cxone.Region // the area this session already connected to the token's tenant in
	now       time.Time
}

// looksLikeKeyID is an access key id as CXone issues them (cxone-api.md §5.3).
var looksLikeKeyID = regexp.MustCompile(`^[A-Z2-7]{52}====$`)

// malformedToken explains a token refused before anything was sent. The
// area cannot be the cause: CXone never saw it.
func malformedToken(raw string, err error) *kp.Error {
	msg := "That is not a basic token: a basic token is three parts separated by dots and starts with eyJ. Nothing was sent to CXone. Copy the whole token again from the Generate Key page (its Copy button copies all of it)."
	switch n := strings.Count(raw, ".") + 1; {
	case looksLikeKeyID.MatchString(raw):
		msg = "That is an access key id, not a basic token. Nothing was sent to CXone. To connect with an access key, use “Connect with an existing access key” below."
	case strings.HasPrefix(raw, "eyJ") && n < 3:
		msg = fmt.Sprintf("That is only part of a basic token: it has %d of its three dot-separated parts. Nothing was sent to CXone. Copy the whole token again from the Generate Key page (its Copy button copies all of it).", n)
	}
	return &kp.Error{Kind: kp.Invalid, Message: msg, Err: err}
}

// refusedToken explains CXone's refusal of a basic token (400, 401 or 403:
// the contract documents no finer answer). CXone answers the same for an
// expired, a used and another area's token, so the message names the
// causes that remain possible given what the token itself says, and never
// advises spending a new token while the area may be the cause.
func refusedToken(f refusalFacts, err error) *kp.Error {
	find := "You find your area in the address of CXone's Generate Key page, or of CXone after you sign in: " +
		"for " + string(f.chosen) + " it starts with " + f.chosenURL + "."
	chosen := AreaLabel(f.chosen)
	area := f.claims.Area
	if area == "" {
		area = f.knownArea
	}
	expired := f.readable && !f.claims.Expires.IsZero() && !f.now.Before(f.claims.Expires)
	var msg string
	switch {
	case area != "" && area != f.chosen && !expired:
		why := "This token is for " + AreaLabel(area)
		if f.claims.Area == "" {
			why = "This token is for " + tenantLabel(f.claims) + ", which you connected to in " + AreaLabel(area)
		}
		msg = why + "; you chose " + chosen + ". Choose " + string(area) + " and paste the same token again: " +
			string(f.chosen) + " refused it, so it may still work in " + string(area) + "."
		return &kp.Error{Kind: kp.Unauthorized, Message: WithUpstream(msg, err), Err: &WrongArea{TokenArea: area, Chosen: f.chosen, Err: err}}
	case expired:
		msg = fmt.Sprintf("CXone's %s area refused the token: it expired at %s, %s ago. Basic tokens are short-lived: generate a new one and paste it right away.",
			f.chosen, f.claims.Expires.UTC().Format("15:04 UTC"), ago(f.now.Sub(f.claims.Expires)))
		switch {
		case area == "":
			msg += " Choose the area your tenant is in: " + find
		case area != f.chosen:
			msg += " It is also for " + AreaLabel(area) + ", not " + string(f.chosen) + ": choose " + string(area) + " with the new token."
		}
	case area == f.chosen:
		valid := ""
		if !f.claims.Expires.IsZero() {
			valid = " and has not expired (it is valid until " + f.claims.Expires.UTC().Format("15:04 UTC") + ")"
		}
		msg = fmt.Sprintf("CXone's %s area refused the token although it is for %s%s. A basic token may work only once: if it was already used to connect, generate a new one.",
			f.chosen, AreaLabel(f.chosen), valid)
	case f.readable && !f.claims.Expires.IsZero():
		msg = fmt.Sprintf("CXone's %s area refused the token. It has not expired (it is valid until %s), so the likeliest cause is the area: a token works only in its tenant's area. %s If %s is your area, the token may have been used already (a basic token may work only once); only then generate a new one.",
			f.chosen, f.claims.Expires.UTC().Format("15:04 UTC"), find, f.chosen)
	default:
		msg = fmt.Sprintf("CXone's %s area refused the token. Either %s is not your tenant's area (%s), or the token expired or was used already (a basic token is short-lived and may work only once). Check the area first; if it is right, generate a new token.",
			f.chosen, f.chosen, strings.TrimSuffix(find, "."))
	}
	return &kp.Error{Kind: kp.Unauthorized, Message: WithUpstream(msg, err), Err: err}
}

func tenantLabel(c tokenClaims) string {
	if c.TenantName != "" {
		return c.TenantName
	}
	return "tenant " + c.TenantID
}

// ago is a rough duration for people: "3 minutes", "2 hours", "5 days".
func ago(d time.Duration) string {
	unit := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return unit(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return unit(int(d/time.Hour), "hour")
	default:
		return unit(int(d/(24*time.Hour)), "day")
	}
}

// isRefusal says whether CXone's answer to a token exchange is a refusal of
// the token itself (rather than a fault, a rate limit or a lost answer).
func isRefusal(err error) bool {
	var ce *cxone.Error
	if !errors.As(err, &ce) || ce.Status == 0 {
		return false
	}
	switch ce.Kind {
	case cxone.BadRequest, cxone.Unauthorized, cxone.Forbidden:
		return true
	}
	return false
}
