package handlers_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keyport/keyport/internal/browsertest"
)

// TestCopyFallsBackWhenTheClipboardIsUnavailable: with the clipboard
// permission denied, and then with no clipboard API at all (plain HTTP),
// Copy selects the text and says how to copy it, without an uncaught
// exception.
func TestCopyFallsBackWhenTheClipboardIsUnavailable(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	tok, err := a.Sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	j := &journey{t: t, br: browsertest.Start(t), app: a}
	j.do("open a phone-sized window", chromedp.EmulateViewport(390, 844))
	j.do("connect",
		chromedp.Navigate(a.URL+"/connect"),
		chromedp.WaitVisible(css(`[data-testid="connect-form"]`)),
		chromedp.SetValue(css(`select[name="region"]`), "na1"),
		chromedp.SetValue(css(`textarea[name="basic_token"]`), tok.Reveal()))
	j.click("connect", `[data-testid="connect-submit"]`)
	j.do("fill the create form", chromedp.WaitVisible(css(`[data-testid="create-form"]`)), chromedp.SendKeys(css(`input[name="label"]`), "copy me"))
	j.click("create a key", `[data-testid="create-key"]`)
	j.wait("the creation page", `[data-testid="key-secret"]`)
	if j.eval("the way out before the box is ticked", `String(document.querySelector('[data-testid="back-to-keys"]').disabled)`) != "true" {
		j.fatalf("with script, Done is usable before the saved box is ticked")
	}

	copied := func(step, button, target string) {
		t.Helper()
		j.do(step, chromedp.Evaluate[chromedp.Void](`window.getSelection().removeAllRanges(); document.querySelector('[data-testid="copy-status"]').textContent = ""`),
			chromedp.Click(css(`[data-testid=`+strconv.Quote(button)+`]`)),
			waitTrue(`document.querySelector('[data-testid="copy-status"]').textContent.includes("to copy")`),
			waitTrue(`window.getSelection().toString().trim() === document.querySelector('[data-testid=`+strconv.Quote(target)+`]').textContent.trim()`))
	}
	// Chromium grants clipboard-write to a clicked page whatever the
	// permission says, so the refusal a denied or unfocused page gets is
	// stubbed: writeText rejects, as it does there.
	j.do("make writeText reject, as a denied permission does", chromedp.Evaluate[chromedp.Void](
		`navigator.clipboard.writeText = () => Promise.reject(new DOMException("Write permission denied.", "NotAllowedError"))`))
	copied("copy the secret with the permission denied", "copy-secret", "key-secret")
	j.do("take the clipboard API away, as plain HTTP does",
		chromedp.Evaluate[chromedp.Void](`Object.defineProperty(navigator, "clipboard", {value: undefined, configurable: true})`))
	copied("copy the id without a clipboard API", "copy-id", "key-id")

	j.do("tick the saved box", chromedp.Click(css(`[data-testid="saved-secret"]`)))
	j.click("done", `[data-testid="back-to-keys"]`)
	j.wait("the keys page", `[data-testid="create-form"]`)
	if p := j.br.Problems(); len(p) > 0 {
		t.Fatalf("the console reported problems: %q", p)
	}
}

// waitTrue polls expr until it is true.
func waitTrue(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr)(ctx, t)
		return chromedp.Void{}, err
	}
}
