package handlers_test

import (
	"context"
	_ "embed"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/browsertest"
)

// axeSource is axe-core, vendored (testdata/axe/README.md says which
// version and how to update it), so the test needs no network.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

const axeVersion = "4.14.1"

// wcagTags are the rule sets that fail the test: WCAG 2.0, 2.1 and 2.2, A
// and AA. Rules tagged only best-practice are logged.
var wcagTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// TestBrowserAccessibility walks every admin and reviewer page in one
// browser (issue 22): first a keyboard-only journey from /connect to a
// verified key and its deletion, then on each page axe-core's WCAG 2.0–2.2
// A/AA rules at desktop width, at 390 px and at 390 px dark, and a sweep of
// widths (320 to 1920 px, light and dark) for sideways scroll, a gutter
// from the window's edges and the length of running text's lines.
func TestBrowserAccessibility(t *testing.T) {
	started := time.Now()
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	j := &journey{t: t, br: browsertest.Start(t), app: a}
	c := &a11yCheck{j: j}
	j.do("the desktop, light, without motion", desktop(), scheme("light"))

	c.keyboardJourney(basicToken(t, a, ten.ID, admin.ID))

	// The admin's pages, on the seeded tenant's keys.
	active, inactive := seededKey(t, ten, admin.ID, true), seededKey(t, ten, admin.ID, false)
	c.page("/", "/")
	c.page("/connect", "/connect")
	c.page("/keys", "/keys")
	c.page("/keys/activity", "/keys/activity")
	c.page("/keys/lookup", "/keys/lookup")
	c.page("a key's page", keyPath(active))
	c.page("deactivate confirmation", keyPath(active)+"/deactivate")
	c.page("delete confirmation", keyPath(inactive)+"/delete")
	c.page("verify form", keyPath(active)+"/verify")
	c.deleteAnActiveKey(active)
	c.rotation(active)
	c.errorPages(inactive)

	// The reviewers' pages.
	addReviewer(t, a, "rita")
	c.page("/reviewer/login", "/reviewer/login")
	j.do("sign in as a reviewer",
		chromedp.SendKeys(css(`[data-testid="login-username"]`), "rita"),
		chromedp.SendKeys(css(`[data-testid="login-password"]`), reviewerPassword))
	j.click("sign in", `[data-testid="login-submit"]`)
	c.page("/audit", "/audit")
	c.page("an event", "/audit/"+j.eval("an event's id", `document.querySelector('[data-testid="audit-row"] a[href^="/audit/"]').getAttribute("href").slice(7)`))
	c.page("key history", "/audit/keys/"+url.PathEscape(active))
	c.page("/audit/activity", "/audit/activity")
	c.page("/audit/integrity", "/audit/integrity")
	c.verifyNowByKeyboard()
	c.page("/audit/credentials", "/audit/credentials")
	c.page("/audit/policies", "/audit/policies")
	c.page("/reviewer/password", "/reviewer/password")
	c.page("/reviewer/sessions", "/reviewer/sessions")

	c.report()
	j.consoleStayedClean(c.expectedProblems...)
	t.Logf("accessibility walk took %s", time.Since(started).Round(time.Millisecond))
}

func keyPath(id string) string { return "/keys/" + url.PathEscape(id) }

// basicToken is a fresh basic token, as CXone's Generate Key page gives it.
func basicToken(t *testing.T, a *testApp, tenantID, userID string) string {
	t.Helper()
	tok, err := a.Sim.BasicToken("na1", tenantID, userID)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal()
}

// seededKey is one of the simulator's seeded keys of userID.
func seededKey(t *testing.T, ten cxonesim.Tenant, userID string, active bool) string {
	t.Helper()
	for _, k := range ten.Keys {
		if k.UserID == userID && k.Active == active {
			return k.ID
		}
	}
	t.Fatalf("tenant %s has no key of %s with active=%v", ten.ID, userID, active)
	return ""
}

// a11yCheck collects what each page's checks found, so one run reports
// every page's problems at once.
type a11yCheck struct {
	j                *journey
	checked          []string // "page (mode)" for each axe run
	swept            int      // page × width × scheme combinations swept
	failures         []string
	bestPractice     map[string][]string // rule: pages
	expectedProblems []string            // console problems the walk causes on purpose
}

// desktop is a 1280 × 900 laptop screen.
func desktop() chromedp.Action[chromedp.Void] { return chromedp.EmulateViewport(1280, 900) }

// scheme emulates the colour scheme and, for steady colours under test,
// reduced motion (Pico then drops its colour transitions).
func scheme(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}, {Name: "prefers-reduced-motion", Value: "reduce"}}})
		return err
	})
}

// width emulates a window w CSS pixels wide, as a phone up to 480 px.
func width(w int64) chromedp.Action[chromedp.Void] {
	if w <= 480 {
		return chromedp.EmulateViewport(w, 844, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(w, 900)
}

// page opens path and checks it.
func (c *a11yCheck) page(name, path string) {
	c.j.t.Helper()
	c.j.do("open "+name, chromedp.Navigate(c.j.app.URL+path), chromedp.WaitReady(css("footer")))
	c.current(name)
}

// current checks the page the browser shows: axe in three modes, then the
// width sweep; it leaves the browser on the desktop in the light scheme.
func (c *a11yCheck) current(name string) {
	j := c.j
	j.t.Helper()
	if j.eval("inject axe-core", `typeof axe`) != "object" {
		j.run("inject axe-core into "+name, func(ctx context.Context) error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeSource))
			return err
		})
	}
	for _, m := range []struct {
		mode   string
		width  int64
		scheme string
	}{{"desktop", 1280, "light"}, {"390 px", 390, "light"}, {"390 px dark", 390, "dark"}} {
		j.do(name+": "+m.mode, width(m.width), scheme(m.scheme))
		c.axe(name, m.mode)
	}
	for _, s := range []string{"light", "dark"} {
		for _, w := range []int64{320, 390, 768, 1024, 1280, 1920} {
			j.do(fmt.Sprintf("%s: %d px %s", name, w, s), width(w), scheme(s))
			c.sweep(name, fmt.Sprintf("%d px %s", w, s))
		}
	}
	j.do("back to the desktop", desktop(), scheme("light"))
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Tags   []string `json:"tags"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRunJS runs axe-core's WCAG A/AA and best-practice rules on the whole
// document once layout has settled, and answers its violations.
var axeRunJS = `(async () => {
	await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
	const res = await axe.run(document, {runOnly: {type: "tag", values: ` + jsList(append(wcagTags, "best-practice")) + `}, resultTypes: ["violations"]});
	return res.violations.map(v => ({id: v.id, impact: v.impact || "", tags: v.tags, help: v.help,
		nodes: v.nodes.map(n => n.target.join(" ") + " — " + (n.failureSummary || "").replace(/\s+/g, " ").slice(0, 240))}));
})()`

func jsList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (c *a11yCheck) axe(name, mode string) {
	j := c.j
	var vs []axeViolation
	j.run("run axe-core on "+name+" ("+mode+")", func(ctx context.Context) (err error) {
		vs, err = chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRunJS, chromedp.EvalAwaitPromise))
		return err
	})
	c.checked = append(c.checked, name+" ("+mode+")")
	for _, v := range vs {
		wcag := false
		for _, tag := range v.Tags {
			for _, w := range wcagTags {
				wcag = wcag || tag == w
			}
		}
		if !wcag {
			if c.bestPractice == nil {
				c.bestPractice = map[string][]string{}
			}
			c.bestPractice[v.ID+" ("+v.Help+")"] = append(c.bestPractice[v.ID+" ("+v.Help+")"], name+" ("+mode+")")
			continue
		}
		for _, n := range v.Nodes {
			c.failures = append(c.failures, fmt.Sprintf("axe %s: %s (%s), %s [%s]: %s", axeVersion, name, mode, v.ID, v.Impact, n))
		}
	}
}

// sweepJS checks the page at the current width: no sideways scroll (naming
// the outermost elements that stick out; a box that scrolls on its own may
// hold wider content), and from 768 px up a gutter of 16 px between any
// text or control and the window's edges, and running text at most 90
// characters a line.
const sweepJS = `(() => {
	const vw = document.documentElement.clientWidth, out = [];
	const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
		(el.dataset && el.dataset.testid ? "[data-testid=" + el.dataset.testid + "]" : "") +
		(typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
	const path = el => { const p = []; for (let e = el; e && e !== document.body && p.length < 3; e = e.parentElement) p.unshift(name(e)); return p.join(" > "); };
	const ownScroll = el => { for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
		const o = getComputedStyle(e).overflowX; if (o !== "visible") return true; } return false; };
	const shown = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
		return r.width > 1 && r.height > 1 && s.visibility !== "hidden" && s.position !== "absolute" || el.tagName === "svg" && r.width > 1; };
	const all = Array.from(document.body.querySelectorAll("*")).filter(el => !ownScroll(el) && shown(el));
	const sw = document.documentElement.scrollWidth;
	if (sw > vw + 1) { // 1 px: sub-pixel rounding
		const wide = all.filter(el => { const r = el.getBoundingClientRect(); return r.right > vw + 0.5 || r.left < -0.5; });
		const outer = wide.filter(el => !wide.includes(el.parentElement));
		out.push("scrolls sideways (" + sw + " px in " + vw + " px): " + outer.slice(0, 4).map(el => path(el) + " spans " +
			Math.round(el.getBoundingClientRect().left) + "–" + Math.round(el.getBoundingClientRect().right)).join("; "));
	}
	if (vw < 768) return out;
	const text = el => Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
	const close = all.filter(el => (text(el) || /^(INPUT|SELECT|TEXTAREA|BUTTON|IMG|svg)$/.test(el.tagName)) && (() => {
		const r = el.getBoundingClientRect(); return r.left < 15.5 || r.right > vw - 15.5; })());
	if (close.length) out.push("closer than 16 px to the window's edge: " + close.slice(0, 4).map(el => path(el) + " at " +
		Math.round(el.getBoundingClientRect().left) + "–" + Math.round(el.getBoundingClientRect().right)).join("; "));
	const cv = document.createElement("canvas").getContext("2d");
	for (const el of document.querySelectorAll("main :is(p, li, dd, blockquote, label, small, figcaption)")) {
		if (el.closest("table, pre") || !all.includes(el)) continue;
		const t = el.textContent.replace(/\s+/g, " ").trim();
		if (t.length <= 90) continue;
		const s = getComputedStyle(el);
		cv.font = s.fontStyle + " " + s.fontWeight + " " + s.fontSize + " " + s.fontFamily;
		const w = el.getBoundingClientRect().width - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
		const perLine = w / (cv.measureText(t).width / t.length);
		if (perLine > 90) { out.push("about " + Math.round(perLine) + " characters a line: " + path(el) + " “" + t.slice(0, 40) + "…”"); break; }
	}
	return out;
})()`

func (c *a11yCheck) sweep(name, mode string) {
	c.swept++
	var found []string
	c.j.run("sweep "+name+" ("+mode+")", func(ctx context.Context) (err error) {
		found, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](sweepJS))
		return err
	})
	for _, f := range found {
		c.failures = append(c.failures, "width: "+name+" ("+mode+"): "+f)
	}
}

// deleteAnActiveKey confirms deleting an active key: Keyport refuses it
// (409), and the trail gains a denied action, which the reviewers' pages
// highlight: the highlighted rows are checked too.
func (c *a11yCheck) deleteAnActiveKey(id string) {
	j := c.j
	j.do("open the active key's delete confirmation", chromedp.Navigate(j.app.URL+keyPath(id)+"/delete"),
		chromedp.WaitVisible(css(`[data-testid="confirm-input"]`)),
		chromedp.SendKeys(css(`[data-testid="confirm-input"]`), confirmFor(id)))
	j.click("delete the active key", `[data-testid="confirm-submit"]`)
	j.wait("the refusal", `main`)
	if msg := j.text("the refusal", `main`); !strings.Contains(msg, "Deactivate the key first") {
		j.fatalf("deleting an active key: %q", msg)
	}
	c.expectedProblems = append(c.expectedProblems, "status of 409")
	c.current("refused delete")
}

// rotation walks the rotation wizard of key id: its confirmation, the new
// key's page, and each step to done.
func (c *a11yCheck) rotation(id string) {
	j := c.j
	c.page("rotation: confirmation", keyPath(id)+"/rotate")
	j.click("start the rotation", `[data-testid="confirm-submit"]`)
	j.wait("the new key's page", `[data-testid="key-secret"]`)
	sec := j.text("the new secret", `[data-testid="key-secret"]`)
	c.current("rotation: the new key")
	j.do("tick I have saved the secret", chromedp.Click(css(`[data-testid="saved-secret"]`)))
	j.click("continue the rotation", `[data-testid="rotation-next"]`)
	j.wait("the wizard", `[data-testid="rotation-deployed"]`)
	c.current("rotation: deploy step")
	j.click("deployed", `[data-testid="rotation-deployed"]`)
	j.do("paste the new secret", chromedp.WaitVisible(css(`[data-testid="rotation-secret"]`)), chromedp.SendKeys(css(`[data-testid="rotation-secret"]`), sec))
	c.current("rotation: verify step")
	j.click("verify", `[data-testid="rotation-verify"]`)
	j.wait("the deactivate step", `[data-testid="rotation-deactivate"]`)
	c.current("rotation: deactivate step")
	j.click("deactivate the old key", `[data-testid="rotation-deactivate"]`)
	j.wait("the delete step", `[data-testid="rotation-delete"]`)
	c.current("rotation: delete step")
	j.do("type the confirmation", chromedp.SendKeys(css(`[data-testid="confirm-input"]`), confirmFor(id)))
	j.click("delete the old key", `[data-testid="rotation-delete"]`)
	j.wait("the finished wizard", `[data-testid="rotation-complete"]`)
	c.current("rotation: done")
}

// errorPages shows the error page for each status a person can meet: no
// such page, and CXone refusing, rate-limiting and failing a key's read.
func (c *a11yCheck) errorPages(id string) {
	j, sim := c.j, c.j.app.Sim
	for _, e := range []struct {
		status int
		fault  *cxonesim.Fault
	}{
		{404, nil},
		{403, &cxonesim.Fault{Endpoint: cxonesim.EndpointGet, Mode: cxonesim.ErrorShape, Status: 403, Shape: cxonesim.ShapeSpring, Count: 5}},
		{429, &cxonesim.Fault{Endpoint: cxonesim.EndpointGet, Mode: cxonesim.RateLimit, Count: 5}},
		{503, &cxonesim.Fault{Endpoint: cxonesim.EndpointGet, Mode: cxonesim.HTML5xx, Status: 503, Count: 5}},
	} {
		path := "/no/such/page"
		if e.fault != nil {
			sim.ClearFaults()
			sim.Inject(*e.fault)
			path = keyPath(id)
		}
		j.do(fmt.Sprintf("open a %d page", e.status), chromedp.Navigate(j.app.URL+path), chromedp.WaitVisible(css(`[data-testid="error-status"]`)))
		if got := j.text("the status", `[data-testid="error-status"]`); got != strconv.Itoa(e.status) {
			j.fatalf("the error page for %s shows %s, want %d", path, got, e.status)
		}
		c.expectedProblems = append(c.expectedProblems, fmt.Sprintf("status of %d", e.status))
		c.current(fmt.Sprintf("error %d", e.status))
	}
	sim.ClearFaults()
}

// verifyNowByKeyboard presses the integrity panel's Verify now from the
// keyboard: focus lands on the run's progress, and stays with its answer
// when htmx swaps the answer in.
func (c *a11yCheck) verifyNowByKeyboard() {
	k := &keyboard{j: c.j, presses: map[string]int{}}
	k.tabTo("/audit/integrity", `[data-testid="verify-now"]`)
	k.pressAndLoad("Enter", "verify now")
	k.focusIsOn("/audit/integrity after Verify now", `#verify-progress, #verify-progress *`)
	c.j.do("wait for the answer", waitText(`[data-testid="verify-result"]`, "verified"))
	k.focusIsOn("/audit/integrity with the answer", `#verify-progress, [data-testid="verify-result"]`)
}

// report fails the test with every violation found, and logs what was
// checked and the best-practice findings.
func (c *a11yCheck) report() {
	t := c.j.t
	t.Helper()
	pages := map[string]bool{}
	for _, p := range c.checked {
		pages[p[:strings.LastIndex(p, " (")]] = true
	}
	t.Logf("axe-core %s (%s): %d pages × 3 modes = %d runs; width sweep: %d page × width × scheme combinations",
		axeVersion, strings.Join(wcagTags, ", "), len(pages), len(c.checked), c.swept)
	for rule, where := range c.bestPractice {
		t.Logf("best practice (not failed): %s on %d page-modes, e.g. %s", rule, len(where), where[0])
	}
	if len(c.failures) > 0 {
		t.Errorf("%d accessibility problems:\n  %s", len(c.failures), strings.Join(c.failures, "\n  "))
	}
}
