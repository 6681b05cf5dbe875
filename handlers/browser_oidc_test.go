package handlers_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyport/keyport/internal/browsertest"
	"github.com/keyport/keyport/internal/oidctest"
)

// TestBrowserOIDCReviewerJourney signs a reviewer in, in a real browser,
// through the provider's own login page (zitadel's example login UI):
// "Sign in with …" on Keyport's page, the provider's form, back to /audit;
// then signs out at the provider (RP-initiated logout) and lands on
// Keyport's sign-in page again. A non-member's attempt ends on Keyport's
// refusal. The sign-in page is checked for accessibility first.
func TestBrowserOIDCReviewerJourney(t *testing.T) {
	a, _ := newOIDCApp(t, false)
	j := &journey{t: t, br: browsertest.Start(t), app: a}
	j.do("set the viewport", chromedp.EmulateViewport(1280, 900))
	// The sign-in page with its "Sign in with …" button passes axe-core and
	// the width sweep, as the local one does in TestBrowserAccessibility.
	c := &a11yCheck{j: j}
	c.page("/reviewer/login (OIDC)", "/reviewer/login")
	c.report()

	j.signInAtTheProvider(oidctest.Bob)
	j.wait("the refusal", `[data-testid="login-error"]`)
	if got := j.text("the refusal", `[data-testid="login-error"]`); !strings.Contains(got, "not in a group allowed to review") {
		j.fatalf("a non-member sees %q", got)
	}

	j.signInAtTheProvider(oidctest.Ada)
	j.wait("the audit list", `[data-testid="audit-row"]`)
	if got := j.text("who is signed in", `[data-testid="identity"]`); !strings.Contains(got, "ada@example.com") {
		j.fatalf("identity shows %q", got)
	}
	j.tour("oidc-audit", "/audit")
	j.click("sign out", `[data-testid="sign-out"]`)
	j.wait("Keyport's sign-in page after the provider signed out", `[data-testid="oidc-signin"]`)
	j.consoleStayedClean("status of 403 (Forbidden)")
}

// signInAtTheProvider opens Keyport's reviewer sign-in, presses "Sign in
// with …" and fills the provider's own login page as u.
func (j *journey) signInAtTheProvider(u oidctest.User) {
	j.t.Helper()
	j.do("open the reviewer sign-in",
		chromedp.Navigate(j.app.URL+"/reviewer/login"),
		chromedp.WaitVisible(css(`[data-testid="oidc-signin"]`)))
	j.click("sign in with the provider", `[data-testid="oidc-signin"]`)
	j.do("fill the provider's login page as "+u.Username,
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), u.Username),
		chromedp.SendKeys(css(`#password`), oidctest.Password))
	j.click("sign in at the provider", `button[type="submit"]`)
}
