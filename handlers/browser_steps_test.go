package handlers_test

import (
	"context"
	"net/url"
	"strings"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// The journey's steps for issue 12: what an admin gets wrong (a decorated
// token, a mistyped secret, a browser that will not copy) and what the
// trail looks like to a reviewer afterwards.

// decorateToken wraps the pasted token the ways copying adds: a "Basic "
// prefix, quotes, a line break inside, white space around. Keyport must
// clean it, not refuse it.
func (j *journey) decorateToken() {
	j.t.Helper()
	got := j.eval("decorate the pasted token", `(() => { const t = document.querySelector('textarea[name="basic_token"]');
		const v = t.value; t.value = "  Basic \u201c" + v.slice(0, 40) + "\n" + v.slice(40) + "\u201d \n"; return t.value.length > v.length ? "ok" : "no"; })()`)
	if got != "ok" {
		j.fatalf("could not decorate the pasted token")
	}
}

// mistypeTheSecret verifies keyID with a secret one character off: the form
// stays, says so beside the field (422), and the row's "last verified"
// does not change. Then the right secret works.
func (j *journey) mistypeTheSecret(keyID, sec string) {
	row := keyRowSelector(keyID)
	j.click("open verify", row+` [data-testid="verify"]`)
	wrong := sec[:len(sec)-6] + "x" + sec[len(sec)-5:]
	if wrong == sec {
		wrong = sec[:len(sec)-6] + "y" + sec[len(sec)-5:]
	}
	j.do("type a wrong secret",
		chromedp.WaitVisible(css(`[data-testid="secret-input"]`)),
		chromedp.SendKeys(css(`[data-testid="secret-input"]`), wrong))
	j.click("verify the wrong secret", `[data-testid="verify-submit"]`)
	j.wait("the inline error", `[data-testid="form-error"]`)
	if p := j.path(); p != "/keys/"+url.PathEscape(keyID)+"/verify" && p != "/keys/"+keyID+"/verify" {
		j.fatalf("a mistyped secret left the verify form for %s", p)
	}
	if msg := j.text("the inline error", `[data-testid="form-error"]`); !strings.Contains(msg, "not this key's secret") {
		j.fatalf("the inline error says %q", msg)
	}
	if st := j.eval("the answer's status", `String(performance.getEntriesByType("navigation")[0].responseStatus)`); st != "422" {
		j.fatalf("a mistyped secret answered %s, want 422", st)
	}
	j.eval("clear the field", `(() => { document.querySelector('[data-testid="secret-input"]').value = ""; return "ok"; })()`)
	j.do("type the right secret", chromedp.SendKeys(css(`[data-testid="secret-input"]`), sec))
	j.click("verify", `[data-testid="verify-submit"]`)
	j.wait("the keys page after verify", row)
	j.flashContains("works")
}

// copyWithoutAClipboard: on a creation page, a browser whose clipboard
// refuses (plain HTTP, a denied permission) still leaves the person able to
// copy: the secret is selected and a visible hint says how, with no
// uncaught exception.
func (j *journey) copyWithoutAClipboard(sec string) {
	j.eval("make the clipboard refuse", `(() => { navigator.clipboard.writeText = () => Promise.reject(new DOMException("denied", "NotAllowedError")); return "ok"; })()`)
	j.do("press Copy", chromedp.Click(css(`[data-testid="copy-secret"]`)))
	j.do("wait for the hint", chromedp.WaitVisible(css(`[data-testid="copy-status"]`)))
	var hint string
	j.run("read the hint", func(ctx context.Context) (err error) {
		hint, err = chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => { for (let i = 0; i < 100; i++) {
			const t = document.querySelector('[data-testid="copy-status"]').textContent.trim(); if (t) return t;
			await new Promise(r => setTimeout(r, 20)); } return ""; })()`, chromedp.EvalAwaitPromise))
		return err
	})
	if !strings.Contains(hint, "Ctrl+C") {
		j.fatalf("with the clipboard refused, the hint says %q", hint)
	}
	if sel := j.eval("read the selection", `String(window.getSelection())`); strings.TrimSpace(sel) != sec {
		j.fatalf("with the clipboard refused, the selection is %d characters, not the secret", len(sel))
	}
}

// oneRowPerAction: the reviewers' default list shows each action once, with
// its result, and no page views.
func (j *journey) oneRowPerAction(keyID string) {
	rows := j.rowsOf("read the default trail", `[data-testid="audit-row"]`)
	creates := 0
	for _, r := range rows {
		switch {
		case strings.HasSuffix(r, ":intent"):
			j.fatalf("the default trail shows an intent row: %v", rows)
		case strings.HasPrefix(r, "key.list:") || strings.HasPrefix(r, "audit.view:"):
			j.fatalf("the default trail shows a page view: %v", rows)
		case r == "key.create:success":
			creates++
		}
	}
	if creates != 2 {
		j.fatalf("two keys were created; the default trail shows %d key.create rows: %v", creates, rows)
	}
}

// allowClipboard lets pages of origin write and read the clipboard, as a
// user who clicked "Allow" would.
func allowClipboard(origin string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for _, name := range []string{"clipboard-write", "clipboard-read"} {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
				Setting:    cdpbrowser.PermissionSettingGranted,
				Origin:     origin,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// pasteKeys presses Ctrl+V in the focused element.
func pasteKeys() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: "v", Code: "KeyV", WindowsVirtualKeyCode: 86, Modifiers: 2 /* Ctrl */}
			if typ == input.DispatchKeyEventTypeRawKeyDown {
				p.Commands = []string{"paste"}
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}
