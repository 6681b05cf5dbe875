package handlers_test

import (
	"context"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// The checks a page must pass on a phone and in both colour schemes
// (issue 12): no page-level sideways scroll, status text readable (WCAG 2.2
// AA, 4.5:1), and a visible focus ring on whatever Tab reaches.

// phone is a 390 × 844 CSS-pixel portrait phone (an iPhone 12–15's).
func phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch)
}

// colourScheme emulates prefers-color-scheme ("light" or "dark"), which is
// what Pico's themes and Keyport's palette follow.
func colourScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

// fitsJS names the elements wider than the viewport when the page scrolls
// sideways, and answers "" when it does not.
const fitsJS = `(() => {
	const vw = document.documentElement.clientWidth;
	if (document.documentElement.scrollWidth <= vw + 1) return "";
	const wide = [];
	for (const el of document.body.querySelectorAll("*")) {
		const r = el.getBoundingClientRect();
		if (r.right > vw + 1 && wide.length < 8) wide.push(el.tagName.toLowerCase() + (el.className ? "." + String(el.className).replace(/ +/g, ".") : "") + " right=" + Math.round(r.right));
	}
	return "page " + document.documentElement.scrollWidth + "px wide in a " + vw + "px viewport; " + wide.join(", ");
})()`

// contrastJS measures every visible status text (badges, flash kinds,
// muted notes) against the background it is drawn on, compositing any
// translucent backgrounds up the tree, and lists those under 4.5:1.
const contrastJS = `(() => {
	const cv = document.createElement("canvas"); cv.width = cv.height = 1;
	const cx = cv.getContext("2d", {willReadFrequently: true});
	const rgba = c => { cx.clearRect(0, 0, 1, 1); cx.fillStyle = "#000"; cx.fillStyle = c; cx.fillRect(0, 0, 1, 1);
		const d = cx.getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2], d[3] / 255]; };
	const over = (top, below) => [0, 1, 2].map(i => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
	const background = el => {
		const layers = [];
		for (let e = el; e; e = e.parentElement) {
			const c = rgba(getComputedStyle(e).backgroundColor);
			if (c[3] > 0) layers.push(c);
			if (c[3] >= 1) break;
		}
		let bg = [255, 255, 255, 1];
		for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
		return bg;
	};
	const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
	const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
	const out = {checked: 0, min: 99, bad: []};
	for (const el of document.querySelectorAll(".kp-badge, .kp-flash-kind, .kp-muted, .kp-identity")) {
		const r = el.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || !el.textContent.trim()) continue;
		const bg = background(el), fg = over(rgba(getComputedStyle(el).color), bg), k = ratio(fg, bg);
		out.checked++; out.min = Math.min(out.min, k);
		if (k < 4.5) out.bad.push(el.className + " \"" + el.textContent.trim().slice(0, 30) + "\" " + k.toFixed(2) + ":1");
	}
	return out;
})()`

type contrastReport struct {
	Checked int      `json:"checked"`
	Min     float64  `json:"min"`
	Bad     []string `json:"bad"`
}

// pageReadsOnAPhone checks the current page at its current viewport and
// scheme: no sideways scroll, and every status text at 4.5:1 or more. It
// answers how many status texts it measured, so a page that lost its
// badges cannot pass silently.
func (j *journey) pageReadsOnAPhone(what string) int {
	j.t.Helper()
	if wide := j.eval("measure the width of "+what, fitsJS); wide != "" {
		j.fatalf("%s scrolls sideways: %s", what, wide)
	}
	var rep contrastReport
	j.run("measure the contrast of "+what, func(ctx context.Context) (err error) {
		rep, err = chromedp.Run(ctx, chromedp.Evaluate[contrastReport](contrastJS))
		return err
	})
	if len(rep.Bad) > 0 {
		j.fatalf("%s has status text under 4.5:1: %s", what, strings.Join(rep.Bad, "; "))
	}
	return rep.Checked
}

// tour opens each path at 390 px in the light and the dark scheme and
// checks it, then goes back to the desktop light setting. The first path's
// page is the screenshot docs/screenshots/phone-<name>[-dark].png.
func (j *journey) tour(name string, paths ...string) {
	j.t.Helper()
	for _, scheme := range []string{"light", "dark"} {
		j.do("a phone in the "+scheme+" scheme", phone(), colourScheme(scheme))
		measured := 0
		for i := len(paths) - 1; i >= 0; i-- { // the first last, for its screenshot
			p := paths[i]
			j.do("open "+p+" ("+scheme+", 390 px)", chromedp.Navigate(j.app.URL+p), chromedp.WaitReady(css("footer")))
			measured += j.pageReadsOnAPhone(p + " (" + scheme + ", 390 px)")
		}
		if measured == 0 {
			j.fatalf("the %s pages (%s) show no status text to measure", name, scheme)
		}
		shot := "phone-" + name + ".png"
		if scheme == "dark" {
			shot = "phone-" + name + "-dark.png"
		}
		j.screenshotTo(shot)
	}
	j.do("back to the desktop", chromedp.EmulateViewport(1280, 900), colourScheme("light"))
}

// focusRingsShow presses Tab n times on the current page and checks that
// each focused control draws an outline of at least 2 px (WCAG 2.4.7/2.4.13).
func (j *journey) focusRingsShow(what string, n int) {
	j.t.Helper()
	for i := 0; i < n; i++ {
		j.do("press Tab", pressKey("Tab", "Tab", 9))
		got := j.eval("read the focus ring", `(() => { const e = document.activeElement; if (!e || e === document.body) return "body";
			const s = getComputedStyle(e); const w = parseFloat(s.outlineWidth);
			return (s.outlineStyle !== "none" && w >= 2) ? "ok" : e.tagName + " " + (e.textContent || "").trim().slice(0, 30) + ": outline " + s.outlineStyle + " " + s.outlineWidth; })()`)
		if got != "ok" && got != "body" {
			j.fatalf("on %s, Tab %d reaches a control without a visible focus ring: %s", what, i+1, got)
		}
	}
}

// pressKey presses and releases one key in the focused element.
func pressKey(key, code string, vk int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: key, Code: code, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}
