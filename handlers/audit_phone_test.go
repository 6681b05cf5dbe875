package handlers_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/browsertest"
	"github.com/keyport/keyport/internal/kp"
)

// At 390 px (a phone) the trail, the event page, "Activity by day" and the
// admins' key history never scroll the page sideways, and every action's
// result is on screen.
func TestAuditPagesFitAPhone(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	addReviewer(t, a, "rita")
	seedTrail(t, a, 300)
	ctx := context.Background()
	ev := audit.Event{Actor: audit.Actor{Kind: kp.ActorAdmin, UserID: admin.ID, Name: "Ada Admin"},
		Scope: audit.Scope{TenantID: ten.ID, TenantName: ten.Name, Region: "na1"}, Action: kp.KeyDelete,
		TargetKeyID: strings.Repeat("AKIAEXAMPLEKEYID", 4)}
	_ = a.App.Audit.Do(ctx, ev, func(context.Context) (audit.Result, error) {
		return audit.Result{UpstreamStatus: 409}, kp.Errorf(kp.Conflict, "Deactivate the key before deleting it; CXone refused with a long explanation of why.")
	})
	if _, err := a.App.Audit.Intent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	token, err := a.Sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	j := &journey{t: t, br: browsertest.Start(t), app: a}
	j.do("a phone's viewport", chromedp.EmulateViewport(390, 844))

	j.do("connect as the admin",
		chromedp.Navigate(a.URL+"/connect"),
		chromedp.WaitVisible(css(`[data-testid="connect-form"]`)),
		chromedp.SetValue(css(`select[name="region"]`), "na1"),
		chromedp.SetValue(css(`textarea[name="basic_token"]`), token.Reveal()))
	j.click("connect", `[data-testid="connect-submit"]`)
	j.fits("/keys/activity", `[data-testid="activity-row-outcome"]`)
	j.fits("/keys/activity?reads=1", `[data-testid="activity-row-outcome"]`)

	j.do("sign in as a reviewer",
		chromedp.Navigate(a.URL+"/reviewer/login"),
		chromedp.WaitVisible(css(`[data-testid="login-form"]`)),
		chromedp.SendKeys(css(`[data-testid="login-username"]`), "rita"),
		chromedp.SendKeys(css(`[data-testid="login-password"]`), reviewerPassword))
	j.click("sign in", `[data-testid="login-submit"]`)
	j.fits("/audit", `[data-testid="audit-row-outcome"]`)
	j.fits("/audit?reads=1", `[data-testid="audit-row-outcome"]`)
	j.fits("/audit?events=1", `[data-testid="audit-row-outcome"]`)
	j.fits("/audit?outcome=failure", `[data-testid="audit-row-outcome"]`)
	j.fits("/audit/activity", `[data-testid="activity-chart"]`)
	j.fits("/audit/2", `[data-testid="event-hash"]`)
	j.consoleStayedClean()
}

// fits opens path and checks the page is no wider than the viewport and
// every element matching sel lies within it.
func (j *journey) fits(path, sel string) {
	j.t.Helper()
	j.do("open "+path, chromedp.Navigate(j.app.URL+path), chromedp.WaitVisible(css(sel)))
	got := j.eval("measure "+path, `(() => {
		const w = document.documentElement.clientWidth, sw = document.documentElement.scrollWidth;
		if (sw > w) {
			const wide = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > w + 1)
				.slice(0, 3).map(e => e.tagName + "." + e.className + "[" + (e.dataset.testid || "") + "]");
			return "the page is " + sw + " px wide in a " + w + " px viewport: " + wide.join(", ");
		}
		const off = [...document.querySelectorAll(`+strconv.Quote(sel)+`)].filter(e => { const r = e.getBoundingClientRect(); return r.left < 0 || r.right > w + 1; });
		return off.length ? off.length + " results off screen" : "ok";
	})()`)
	if got != "ok" {
		j.fatalf("%s at 390 px: %s", path, got)
	}
}
