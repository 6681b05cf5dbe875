package handlers_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/keyport/keyport/internal/browsertest"
)

// TestBrowserJourney is a new user's first visit, in a real browser: generate
// a basic token on the simulator's Generate Key page, copy it, connect, create
// a key, see its secret once, verify it, deactivate it, delete it, and find
// each step in the activity view; then a reviewer's visit. Every page is
// checked for console errors and Content Security Policy violations.
//
// Then the same pages on a 390 px phone in the light and the dark scheme
// (no sideways scroll, status text at 4.5:1), focus rings under Tab, a
// decorated token, a mistyped secret and a clipboard that refuses.
//
// KEYPORT_UPDATE_SCREENSHOTS=1 rewrites docs/screenshots/*.png.
func TestBrowserJourney(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	started := time.Now()
	j := &journey{t: t, br: browsertest.Start(t), app: a}

	j.do("set the viewport and allow the clipboard",
		chromedp.EmulateViewport(1280, 900),
		allowClipboard(a.SimURL), allowClipboard(a.URL))
	token := j.generateBasicToken(ten.ID, admin.ID)
	j.connectWith(token, []string{admin.Email, ten.Name, "na1"})
	keyID, sec := j.createKeyAndSeeSecretOnce("browser journey")
	// From a basic token to a verified key: what the person did (issue 22).
	if len(j.actions) > 5 {
		t.Fatalf("%d actions from a basic token to a verified key, want 5 or fewer: %s", len(j.actions), strings.Join(j.actions, ", "))
	}
	t.Logf("%d actions from a basic token to a verified key: %s", len(j.actions), strings.Join(j.actions, ", "))
	j.mistypeTheSecret(keyID, sec)
	j.verifyDeactivateDelete(keyID, sec)
	key2 := j.createAndVerifyFromCreationPage("reporting ETL, prod")
	j.screenshotTo("keys.png")
	j.focusRingsShow("/keys", 12)
	k2 := "/keys/" + url.PathEscape(key2)
	j.tour("keys", "/keys", k2, k2+"/deactivate", "/keys/activity", "/connect", "/")
	j.activityListsEveryStep()
	addReviewer(t, a, "rita")
	j.reviewerFindsTheKey("rita", key2)
	j.tour("audit", "/audit", "/audit/activity", "/audit/integrity", "/audit/credentials")
	j.consoleStayedClean("status of 422 (Unprocessable Entity) (" + a.URL + "/keys/" + keyID + "/verify)")
	t.Logf("journey took %s", time.Since(started).Round(time.Millisecond))
}

// generateBasicToken uses the simulator's Generate Key page: pick the
// admin, generate, copy.
func (j *journey) generateBasicToken(tenantID, userID string) string {
	j.do("open the Generate Key page",
		chromedp.Navigate(j.app.SimURL+"/na1/generate-key"),
		chromedp.WaitVisible(css(`[data-testid="generate-key-form"]`)),
		chromedp.SetValue(css(`select[name="tenant"]`), tenantID),
		chromedp.SetValue(css(`select[name="user"]`), tenantID+"/"+userID))
	j.click("generate a basic token", `[data-testid="generate"]`)
	j.do("copy the basic token",
		chromedp.WaitVisible(css(`[data-testid="basic-token"]`)),
		chromedp.WaitVisible(css(`[data-testid="copy-basic-token"]`)), // copy.js unhides it
		chromedp.Click(css(`[data-testid="copy-basic-token"]`)),
		waitText(`[data-testid="copy-status"]`, "Copied."))
	token := j.value("read the basic token", `[data-testid="basic-token"]`)
	if strings.Count(token, ".") != 2 {
		j.fatalf("the Generate Key page shows %d characters, not a JWT", len(token))
	}
	return token
}

// connectWith pastes the token on the connect page and lands on the keys
// page with the identity shown.
func (j *journey) connectWith(token string, identity []string) {
	j.do("open the connect page", chromedp.Navigate(j.app.URL+"/connect"), chromedp.WaitVisible(css(`[data-testid="connect-form"]`)))
	// The token is all the page asks for: its field has focus, and the
	// area a fresh page chooses is the simulator's.
	var got string
	j.run("what has focus", func(ctx context.Context) (err error) {
		got, err = chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => { for (let i = 0; i < 100 && document.activeElement.name !== "basic_token"; i++)
			await new Promise(r => setTimeout(r, 20)); return document.activeElement.name + " " + document.querySelector('select[name="region"]').value; })()`, chromedp.EvalAwaitPromise))
		return err
	})
	if got != "basic_token na1" {
		j.fatalf("the connect page opens with focus on %q, want the token field and na1", got)
	}
	j.act("paste the token", pasteKeys())
	if pasted := j.value("read the pasted token", `textarea[name="basic_token"]`); pasted != token {
		j.fatalf("the connect form holds %d characters after the paste, want the %d-character token", len(pasted), len(token))
	}
	j.decorateToken()
	j.actions = append(j.actions, "press Connect")
	j.click("connect", `[data-testid="connect-submit"]`)
	j.wait("the keys page after connecting", `[data-testid="create-form"]`)
	if p := j.path(); p != "/keys" {
		j.fatalf("connect landed on %s, want /keys", p)
	}
	shown := j.text("identity", `[data-testid="identity"]`)
	for _, want := range identity {
		if !strings.Contains(shown, want) {
			j.fatalf("identity %q lacks %q", shown, want)
		}
	}
	j.flashContains("Connected to " + identity[1] + " (na1).") // identity is user, tenant, area
}

func keyRowSelector(id string) string {
	return `[data-testid="key-row"][data-key-id=` + strconv.Quote(id) + `]`
}

// createKeyAndSeeSecretOnce creates a key: its secret is on the creation
// page, once, and its row shows the label and the secret's last four.
func (j *journey) createKeyAndSeeSecretOnce(label string) (keyID, sec string) {
	j.act("click the label field and type a label", chromedp.SendKeys(css(`input[name="label"]`), label))
	j.actions = append(j.actions, "press Create key")
	j.click("create a key", `[data-testid="create-key"]`)
	j.wait("the creation page", `[data-testid="key-secret"]`)
	keyID = j.text("key id", `[data-testid="key-id"]`)
	sec = j.text("key secret", `[data-testid="key-secret"]`)
	if keyID == "" || len(sec) != 56 {
		j.fatalf("the creation page shows id %q and a %d-character secret", keyID, len(sec))
	}
	j.actions = append(j.actions, "press Verify it now")
	j.click("verify it now", `[data-testid="verify-new"]`)
	j.wait("the answer on the creation page", `[data-testid="verify-result"][data-works="true"]`)
	j.do("tick I have saved the secret", chromedp.Click(css(`[data-testid="saved-secret"]`)))
	j.click("back to the keys", `[data-testid="back-to-keys"]`)
	row := keyRowSelector(keyID)
	j.wait("the new key's row", row)
	if html := j.eval("page HTML", `document.documentElement.outerHTML`); strings.Contains(html, sec) {
		j.fatalf("the keys page after the creation page contains the secret")
	}
	if st := j.text("state", row+` [data-testid="key-state"]`); st != "active" {
		j.fatalf("the new key is %q, want active", st)
	}
	last4 := strings.TrimRight(sec, "=")
	last4 = last4[len(last4)-4:]
	if rt := j.text("row", row); !strings.Contains(rt, label) || !strings.Contains(rt, "secret …"+last4) {
		j.fatalf("the new key's row lacks its label or the secret's last four: %q", rt)
	}
	return keyID, sec
}

// verifyDeactivateDelete verifies the key with its pasted secret, then
// deactivates and deletes it through the confirmation pages.
func (j *journey) verifyDeactivateDelete(keyID, sec string) {
	row := keyRowSelector(keyID)
	j.click("open verify", row+` [data-testid="verify"]`)
	j.do("paste the secret",
		chromedp.WaitVisible(css(`input[name="access_key_secret"]`)),
		chromedp.SendKeys(css(`input[name="access_key_secret"]`), sec))
	j.click("verify", `[data-testid="verify-submit"]`)
	j.wait("the keys page after verify", row)
	j.flashContains("works")

	j.click("open deactivate", row+` [data-testid="deactivate"]`)
	j.wait("the deactivate confirmation", `[data-testid="confirm-submit"]`)
	j.click("confirm deactivate", `[data-testid="confirm-submit"]`)
	j.wait("the keys page after deactivate", row)
	j.flashContains("deactivated")
	if st := j.text("state", row+` [data-testid="key-state"]`); st != "inactive" {
		j.fatalf("after deactivate the key is %q, want inactive", st)
	}

	j.click("open delete", row+` [data-testid="delete"]`)
	j.wait("the delete confirmation", `[data-testid="confirm-submit"]`)
	j.do("type the id's last four", chromedp.SendKeys(css(`[data-testid="confirm-input"]`), confirmFor(keyID)))
	j.click("confirm delete", `[data-testid="confirm-submit"]`)
	j.wait("the keys page after delete", `[data-testid="create-form"]`)
	j.flashContains("deleted")
	if j.exists(row) {
		j.fatalf("the deleted key %s is still listed", keyID)
	}
}

// createAndVerifyFromCreationPage creates a second key and verifies it
// straight from its creation page: the keys page as a user sees it in
// daily use, for the README.
func (j *journey) createAndVerifyFromCreationPage(label string) string {
	j.do("fill the create form", chromedp.SendKeys(css(`input[name="label"]`), label))
	j.click("create a second key", `[data-testid="create-key"]`)
	j.wait("the second creation page", `[data-testid="verify-new"]`)
	key := j.text("second key id", `[data-testid="key-id"]`)
	j.copyWithoutAClipboard(j.text("second key secret", `[data-testid="key-secret"]`))
	j.click("verify it now", `[data-testid="verify-new"]`)
	j.wait("the answer on the creation page", `[data-testid="verify-result"][data-works="true"]`)
	j.wait("the secret still shown", `[data-testid="key-secret"]`)
	j.do("tick I have saved the secret", chromedp.Click(css(`[data-testid="saved-secret"]`)))
	j.click("back to the keys", `[data-testid="back-to-keys"]`)
	row := keyRowSelector(key)
	j.wait("the keys page after verify-new", row)
	if st := j.text("state", row+` [data-testid="key-state"]`); st != "active" {
		j.fatalf("the second key is %q, want active", st)
	}
	return key
}

// screenshotTo rewrites docs/screenshots/name when KEYPORT_UPDATE_SCREENSHOTS=1.
func (j *journey) screenshotTo(name string) {
	if os.Getenv("KEYPORT_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	png := j.screenshot("screenshot for " + name)
	dst := filepath.Join("..", "docs", "screenshots", name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		j.t.Fatal(err)
	}
	if err := os.WriteFile(dst, png, 0o644); err != nil {
		j.t.Fatal(err)
	}
	j.t.Logf("wrote %s (%d bytes)", dst, len(png))
}

// rowsOf reads data-action:data-outcome of every element matching sel.
func (j *journey) rowsOf(step, sel string) []string {
	var rows []string
	j.run(step, func(ctx context.Context) (err error) {
		rows, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll(`+strconv.Quote(sel)+`), r => r.dataset.action + ":" + r.dataset.outcome)`))
		return err
	})
	return rows
}

// activityListsEveryStep: the activity view lists every step, each a success.
func (j *journey) activityListsEveryStep() {
	j.click("open the activity", `[data-testid="activity-link"]`)
	j.wait("the activity page", `[data-testid="activity-row"]`)
	rows := j.rowsOf("read the activity", `[data-testid="activity-row"]`)
	got := " " + strings.Join(rows, " ") + " "
	for _, want := range []string{"connect:success", "key.create:success", "key.verify:success", "key.deactivate:success", "key.delete:success"} {
		if !strings.Contains(got, " "+want+" ") {
			j.fatalf("the activity view lacks %s: %v", want, rows)
		}
	}
}

// reviewerFindsTheKey: a reviewer signs in to Keyport itself, filters the
// trail to the admin's key, exports CSV, opens its history, verifies the chain.
func (j *journey) reviewerFindsTheKey(name, keyID string) {
	j.do("open the reviewer sign-in",
		chromedp.Navigate(j.app.URL+"/auditor/login"),
		chromedp.WaitVisible(css(`[data-testid="login-form"]`)),
		chromedp.SendKeys(css(`[data-testid="login-username"]`), name),
		chromedp.SendKeys(css(`[data-testid="login-password"]`), reviewerPassword))
	j.click("sign in as a reviewer", `[data-testid="login-submit"]`)
	j.wait("the audit list", `[data-testid="audit-row"]`)
	j.oneRowPerAction(keyID)
	if j.eval("open the filters", `(() => { const d = document.querySelector('[data-testid="filters"]'); if (d && d.tagName === "DETAILS") d.open = true; return "ok"; })()`) != "ok" {
		j.fatalf("cannot open the filters")
	}
	j.do("filter to the admin's key", chromedp.SendKeys(css(`[data-testid="filter-key"]`), keyID))
	j.click("apply the filter", `[data-testid="filter-apply"]`)
	j.wait("the filtered list", `[data-testid="key-history-link"]`)
	keyRows := j.rowsOf("read the filtered rows", `[data-testid="audit-row"]`)
	if got := strings.Join(keyRows, " "); !strings.Contains(got, "key.create:success") || !strings.Contains(got, "key.verify:success") {
		j.fatalf("the trail filtered to %s shows %v", keyID, keyRows)
	}
	j.screenshotTo("audit.png")
	j.exportCSVHolds(keyID)
	j.click("open the key's history", `[data-testid="key-history-link"]`)
	j.wait("the key history", `[data-testid="key-facts"]`)
	if h := j.text("key history", `[data-testid="audit-table"]`); !strings.Contains(h, "key.create") || !strings.Contains(h, "key.verify") {
		j.fatalf("the key's history lacks its creation or verification: %q", h)
	}
	j.do("open the integrity panel", chromedp.Navigate(j.app.URL+"/audit/integrity"), chromedp.WaitVisible(css(`[data-testid="verify-now"]`)))
	j.click("verify now", `[data-testid="verify-now"]`)
	j.do("wait for the verification", waitText(`[data-testid="verify-result"]`, "verified"))
}

// exportCSVHolds exports CSV with the current filters, as the link would
// download it.
func (j *journey) exportCSVHolds(keyID string) {
	var csv string
	j.run("export CSV", func(ctx context.Context) (err error) {
		csv, err = chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => { const a = document.querySelector('[data-testid="export-csv"]');
			const r = await fetch(a.href); return r.status + "\n" + await r.text(); })()`, chromedp.EvalAwaitPromise))
		return err
	})
	if !strings.HasPrefix(csv, "200\n") || !strings.Contains(csv, keyID) || !strings.Contains(csv, "key.create") {
		j.fatalf("the CSV export: %.300s", csv)
	}
}

// consoleStayedClean: no page logged an error, threw, or broke the Content
// Security Policy, and the check is live (an inline script is reported).
// expected are the problems the journey caused on purpose (the 422 of a
// mistyped secret), each matched once by a substring.
func (j *journey) consoleStayedClean(expected ...string) {
	t := j.t
	var unexpected []string
	left := append([]string(nil), expected...)
	for _, p := range j.br.Problems() {
		if i := slices.IndexFunc(left, func(e string) bool { return strings.Contains(p, e) }); i >= 0 {
			left = slices.Delete(left, i, i+1)
			continue
		}
		unexpected = append(unexpected, p)
	}
	if len(unexpected) > 0 || len(left) > 0 {
		t.Fatalf("the browser console reported problems:\n  %s\nexpected and missing: %q", strings.Join(unexpected, "\n  "), left)
	}
	j.do("inject an inline script", chromedp.Evaluate[chromedp.Void](
		`document.head.appendChild(Object.assign(document.createElement("script"), {textContent: "window.kpInline = 1"}))`))
	ctx, cancel := context.WithTimeout(j.br.Context(), 5*time.Second)
	defer cancel()
	if _, err := j.br.WaitProblem(ctx, "Content Security Policy"); err != nil {
		t.Fatalf("an inline script went unreported, so the console check proves nothing: %v", err)
	}
	if n := len(j.br.Problems()); n != 1+len(expected) {
		t.Fatalf("one inline script, %d problems: %q", n, j.br.Problems())
	}
}

// journey runs browser steps with a timeout each and, on failure, reports
// the step, the page's URL and text, and the console's problems.
type journey struct {
	t   *testing.T
	br  *browsertest.Browser
	app *testApp
	// actions are what the person did, counted where a journey counts them.
	actions []string
}

// act does what a person does in one action (a paste, a field filled), and counts it.
func (j *journey) act(what string, a chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	j.actions = append(j.actions, what)
	j.do(what, a)
}

const stepTimeout = 10 * time.Second

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

func (j *journey) run(step string, f func(ctx context.Context) error) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.br.Context(), stepTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		j.fatalf("%s: %v", step, err)
	}
}

func (j *journey) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	j.run(step, func(ctx context.Context) error { return chromedp.Do(ctx, actions...) })
}

// click clicks sel and waits for the page it leads to to load.
func (j *journey) click(step, sel string) {
	j.t.Helper()
	j.run(step, func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Click(css(sel))))
		return err
	})
}

func (j *journey) wait(step, sel string) {
	j.t.Helper()
	j.do(step, chromedp.WaitVisible(css(sel)))
}

func (j *journey) text(step, sel string) (s string) {
	j.t.Helper()
	j.run(step, func(ctx context.Context) (err error) {
		s, err = chromedp.Run(ctx, chromedp.Text(css(sel)))
		return err
	})
	return strings.TrimSpace(s)
}

func (j *journey) value(step, sel string) (s string) {
	j.t.Helper()
	j.run(step, func(ctx context.Context) (err error) {
		s, err = chromedp.Run(ctx, chromedp.Value(css(sel)))
		return err
	})
	return s
}

func (j *journey) eval(step, expr string) (s string) {
	j.t.Helper()
	j.run(step, func(ctx context.Context) (err error) {
		s, err = chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		return err
	})
	return s
}

// exists reports whether sel matches now, without waiting for it.
func (j *journey) exists(sel string) bool {
	j.t.Helper()
	var ok bool
	j.run("look for "+sel, func(ctx context.Context) (err error) {
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(`+strconv.Quote(sel)+`) !== null`))
		return err
	})
	return ok
}

func (j *journey) path() string {
	j.t.Helper()
	loc := j.eval("location", `location.href`)
	u, err := url.Parse(loc)
	if err != nil {
		j.fatalf("location %q: %v", loc, err)
	}
	return u.Path
}

func (j *journey) flashContains(want string) {
	j.t.Helper()
	var flashes []string
	j.run("read the flash messages", func(ctx context.Context) (err error) {
		if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`[data-testid="flash"]`))); err != nil {
			return err
		}
		flashes, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll('[data-testid="flash"]'), f => f.textContent.trim())`))
		return err
	})
	for _, f := range flashes {
		if strings.Contains(f, want) {
			return
		}
	}
	j.fatalf("no flash message says %q: %q", want, flashes)
}

func (j *journey) screenshot(step string) (png []byte) {
	j.t.Helper()
	j.run(step, func(ctx context.Context) (err error) {
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		return err
	})
	return png
}

// fatalf fails the test with what the browser shows.
func (j *journey) fatalf(format string, args ...any) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.br.Context(), 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		body = "(unreadable: " + err.Error() + ")"
	}
	if len(body) > 3000 {
		body = body[:3000] + "…"
	}
	msg := "browser journey: " + format + "\npage %s:\n%s"
	args = append(args, loc, body)
	if p := j.br.Problems(); len(p) > 0 {
		msg += "\nconsole:\n  %s"
		args = append(args, strings.Join(p, "\n  "))
	}
	j.t.Fatalf(msg, args...)
}

// waitText waits until sel's text is want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](`(document.querySelector(`+strconv.Quote(sel)+`) || {}).textContent === `+strconv.Quote(want))(ctx, t)
		return chromedp.Void{}, err
	}
}
