package handlers_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyport/keyport/internal/browsertest"
)

// TestConnectOnAPhone: on a 390 px screen, the simulator's Generate Key
// page offers only the chosen tenant's users; the connect page, its area
// help and its refusal fit without sideways scrolling; a decorated token
// with the wrong area is refused for the area and then connects in the
// right one; the console stays clean.
func TestConnectOnAPhone(t *testing.T) {
	a := newTestApp(t)
	globex, admin, _ := tenantUsers(t, a.Sim, "na1", 1)
	j := &journey{t: t, br: browsertest.Start(t), app: a}
	j.do("a phone-sized viewport", chromedp.EmulateViewport(390, 844))

	j.do("open the Generate Key page and choose the second tenant",
		chromedp.Navigate(a.SimURL+"/na1/generate-key"),
		chromedp.WaitVisible(css(`[data-testid="generate-key-form"]`)),
		chromedp.Evaluate[chromedp.Void](`(s => { s.value = `+strconv.Quote(globex.ID)+`; s.dispatchEvent(new Event("change")); })(document.querySelector("select[name=tenant]"))`))
	offered := j.eval("the users offered", `Array.from(document.querySelectorAll("select[name=user] option"), o => o.hidden ? "" : o.value).filter(Boolean).join(" ")`)
	chosen := j.value("the user chosen", `select[name="user"]`)
	if !strings.HasPrefix(chosen, globex.ID+"/") || len(strings.Fields(offered)) != len(globex.Users) || strings.Count(offered, globex.ID+"/") != len(globex.Users) {
		j.fatalf("tenant %s offers %q with %q chosen, want its %d users only", globex.ID, offered, chosen, len(globex.Users))
	}
	j.do("choose its admin", chromedp.SetValue(css(`select[name="user"]`), globex.ID+"/"+admin.ID))
	j.click("generate", `[data-testid="generate"]`)
	token := j.value("read the basic token", `[data-testid="basic-token"]`)
	if j.text("the token's tenant", `[data-testid="tenant-id"]`) != globex.ID {
		j.fatalf("the token is not for the tenant chosen")
	}
	decorated := "Basic “" + token[:40] + "\n" + token[40:] + "”\n"

	j.do("open the connect page and its area help",
		chromedp.Navigate(a.URL+"/connect"),
		chromedp.WaitVisible(css(`[data-testid="connect-form"]`)),
		chromedp.Click(css(`[data-testid="area-help"] summary`)),
		chromedp.WaitVisible(css(`[data-testid="area-address"]`)))
	j.noSidewaysScroll("the connect page with the area help open")
	j.do("paste the decorated token with eu1 chosen",
		chromedp.SetValue(css(`select[name="region"]`), "eu1"),
		chromedp.SetValue(css(`textarea[name="basic_token"]`), decorated))
	j.noSidewaysScroll("the connect page holding a token")
	j.click("connect", `[data-testid="connect-submit"]`)
	j.wait("the refusal", `[data-testid="form-error"]`)
	if msg := j.text("the refusal", `[data-testid="form-error"]`); !strings.Contains(msg, "the likeliest cause is the area") {
		j.fatalf("refusal %q does not point at the area", msg)
	}
	if got := j.value("the area kept", `[data-testid="region"]`); got != "eu1" {
		j.fatalf("the refusal chose %q, want eu1 kept", got)
	}
	j.noSidewaysScroll("the refusal")
	j.screenshotIfAsked("connect-refused-phone.png")
	j.do("paste the same token with na1 chosen",
		chromedp.SetValue(css(`select[name="region"]`), "na1"),
		chromedp.SetValue(css(`textarea[name="basic_token"]`), decorated))
	j.click("connect again", `[data-testid="connect-submit"]`)
	j.flashContains("Connected to " + globex.Name + " (na1).")
	j.do("back to the connect page, which lists the connection",
		chromedp.Navigate(a.URL+"/connect"),
		chromedp.WaitVisible(css(`[data-testid="connection"]`)))
	j.noSidewaysScroll("the connect page with a connection")
	j.screenshotIfAsked("connect-phone.png")
	// The refusal's own 401 is the one problem the console may report.
	var problems []string
	for _, p := range j.br.Problems() {
		if !strings.Contains(p, "status of 401") || !strings.Contains(p, a.URL+"/connect") {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 || len(j.br.Problems()) != 1 {
		t.Fatalf("the browser console reported problems (want only the refusal's 401):\n  %s", strings.Join(j.br.Problems(), "\n  "))
	}
}

// noSidewaysScroll fails when the page is wider than the screen.
func (j *journey) noSidewaysScroll(what string) {
	j.t.Helper()
	if w := j.eval(what+": widths", `document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`); func() bool {
		f := strings.Fields(w)
		return len(f) != 2 || f[0] != f[1]
	}() {
		j.fatalf("%s scrolls sideways: scroll and client widths %s", what, w)
	}
}

// screenshotIfAsked saves the page under KEYPORT_CONNECT_SCREENSHOT_DIR,
// when set, for a person to look at.
func (j *journey) screenshotIfAsked(name string) {
	j.t.Helper()
	if dir := os.Getenv("KEYPORT_CONNECT_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), j.screenshot("screenshot "+name), 0o644); err != nil {
			j.t.Error(err)
		}
	}
}
