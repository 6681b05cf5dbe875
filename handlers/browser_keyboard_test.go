package handlers_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The keyboard-only journey (issue 22): from /connect to a verified key,
// then deactivate and delete it, with Tab, Shift+Tab, Enter and Space and
// text typed into whatever field has focus. The test never clicks and
// never focuses an element: pages put focus where the work is (autofocus,
// or the result of the last submit), and Tab does the rest.
//
// On each page it walks a full Tab cycle first: every visible control is
// reached, in the order it reads (no positive tabindex, never back up the
// page), each with a focus ring of 3:1 or more against what is behind it,
// focus can leave the page (no trap), and Shift+Tab goes back.

// keyboard counts what a person pressed and typed; the test's own walks
// round each page are counted apart (walking).
type keyboard struct {
	j        *journey
	presses  map[string]int
	typed    int
	walking  bool
	walkKeys int
}

// focusStop is what has focus.
type focusStop struct {
	Body   bool    `json:"body"`
	Tag    string  `json:"tag"`
	Name   string  `json:"name"`
	TestID string  `json:"testid"`
	Index  int     `json:"index"` // among the page's controls in document order; -1 when not one
	Ring   string  `json:"ring"`  // "" when the ring shows at 3:1 or more; else what is wrong
	Ratio  float64 `json:"ratio"`
	Top    float64 `json:"top"`
	RowTop float64 `json:"rowTop"` // top of the table row, list item or group it sits in
}

func (f focusStop) String() string {
	if f.Body {
		return "(outside the page)"
	}
	s := f.Tag
	if f.TestID != "" {
		s += "[" + f.TestID + "]"
	}
	return s + " “" + f.Name + "”"
}

// colourJS is the contrast arithmetic of WCAG 2.2 (relative luminance),
// with translucent backgrounds composited up the tree.
const colourJS = `
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
		let bg = rgba(getComputedStyle(document.documentElement).backgroundColor);
		if (bg[3] < 1) bg = [255, 255, 255, 1];
		for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
		return bg;
	};
	const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
	const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
`

// focusJS describes the focused element and its focus ring.
const focusJS = `(() => {` + colourJS + `
	const e = document.activeElement;
	if (!e || e === document.body || e === document.documentElement || !document.hasFocus()) return {body: true, index: -1};
	const s = getComputedStyle(e), r = e.getBoundingClientRect(), w = parseFloat(s.outlineWidth);
	let ring = "", k = 0;
	if (s.outlineStyle === "none" || !(w >= 2)) {
		ring = "no focus ring (outline " + s.outlineStyle + " " + s.outlineWidth + ")";
	} else {
		const bg = background(e.parentElement);
		k = ratio(over(rgba(s.outlineColor), bg), bg);
		if (k < 3) ring = "focus ring " + s.outlineColor + " at " + k.toFixed(2) + ":1 against rgb(" + bg.slice(0, 3).map(Math.round) + ")";
	}
	const row = e.closest("tr, li, dl, .grid, nav, .kp-identity-bar, .kp-confirm-actions, .kp-created-tools") || e;
	return {body: false, tag: e.tagName.toLowerCase(), testid: e.dataset.testid || "", index: e.dataset.kb ? +e.dataset.kb : -1, ring, ratio: k,
		name: (e.getAttribute("aria-label") || e.textContent || e.getAttribute("name") || "").trim().replace(/\s+/g, " ").slice(0, 40),
		top: r.top + scrollY, rowTop: row.getBoundingClientRect().top + scrollY};
})()`

// controlsJS numbers the page's visible, enabled controls in document
// order (data-kb) and counts positive tabindexes, which would reorder Tab.
const controlsJS = `(() => {
	const sel = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
	const els = Array.from(document.querySelectorAll(sel)).filter(e => { const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && e.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true}); });
	els.forEach((e, i) => e.dataset.kb = i);
	return {count: els.length, positive: Array.from(document.querySelectorAll("[tabindex]")).filter(e => e.tabIndex > 0).length,
		names: els.map(e => e.tagName.toLowerCase() + (e.dataset.testid ? "[" + e.dataset.testid + "]" : "") + " “" + (e.getAttribute("aria-label") || e.textContent || e.getAttribute("name") || "").trim().replace(/\s+/g, " ").slice(0, 30) + "”")};
})()`

type controls struct {
	Count    int      `json:"count"`
	Positive int      `json:"positive"`
	Names    []string `json:"names"`
}

func (k *keyboard) key(name string) chromedp.Action[chromedp.Void] {
	type press struct {
		key, code, text string
		vk              int64
		mods            int64
	}
	p := map[string]press{
		"Tab":       {"Tab", "Tab", "", 9, 0},
		"Shift+Tab": {"Tab", "Tab", "", 9, 8 /* Shift */},
		"Enter":     {"Enter", "Enter", "\r", 13, 0},
		"Space":     {" ", "Space", " ", 32, 0},
	}[name]
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: p.key, Code: p.code,
			WindowsVirtualKeyCode: p.vk, NativeVirtualKeyCode: p.vk, Modifiers: p.mods}
		if p.text != "" {
			down.Type, down.Text, down.UnmodifiedText = input.DispatchKeyEventTypeKeyDown, p.text, p.text
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		for _, ev := range []input.DispatchKeyEventParams{down, up} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// press presses a key that stays on the page.
func (k *keyboard) press(name string) {
	k.j.t.Helper()
	if k.walking {
		k.walkKeys++
	} else {
		k.presses[name]++
	}
	k.j.do("press "+name, k.key(name))
}

// pressAndLoad presses a key that submits, and waits for the page that answers.
func (k *keyboard) pressAndLoad(name, step string) {
	k.j.t.Helper()
	k.presses[name]++
	k.j.run(step, func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, k.key(name)))
		return err
	})
	k.j.do(step+": the page is ready", chromedp.WaitReady(css("footer")))
}

// typeText types s into the focused field, as a person (or their paste) would.
func (k *keyboard) typeText(s string) {
	k.j.t.Helper()
	k.typed += len(s)
	k.j.do("type into the focused field", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: s})
		return err
	}))
}

func (k *keyboard) focus() (f focusStop) {
	k.j.t.Helper()
	k.j.run("read the focus", func(ctx context.Context) (err error) {
		f, err = chromedp.Run(ctx, chromedp.Evaluate[focusStop](focusJS))
		return err
	})
	return f
}

func (k *keyboard) controls() (c controls) {
	k.j.t.Helper()
	k.j.run("number the controls", func(ctx context.Context) (err error) {
		c, err = chromedp.Run(ctx, chromedp.Evaluate[controls](controlsJS))
		return err
	})
	return c
}

// focusIsOn waits for the page to put focus on sel (autofocus and app.js
// run after load) and fails if it does not.
func (k *keyboard) focusIsOn(page, sel string) {
	k.j.t.Helper()
	var ok string
	k.j.run(page+": where focus starts", func(ctx context.Context) (err error) {
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => { for (let i = 0; i < 100; i++) {
			if (document.activeElement && document.activeElement.matches(`+strconv.Quote(sel)+`)) return "yes";
			await new Promise(r => setTimeout(r, 20)); } return "no"; })()`, chromedp.EvalAwaitPromise))
		return err
	})
	if ok != "yes" {
		k.j.fatalf("%s: focus starts on %s, want %s", page, k.focus(), sel)
	}
}

// walk presses Tab round the whole page from where focus is, checking each
// stop, until a control comes round again; then Shift+Tab must go back one.
func (k *keyboard) walk(page string) {
	j := k.j
	j.t.Helper()
	k.walking = true
	defer func() { k.walking = false }()
	c := k.controls()
	if c.Positive > 0 {
		j.fatalf("%s: %d elements with a positive tabindex reorder Tab", page, c.Positive)
	}
	start := k.focus()
	seen := map[int]bool{}
	if start.Index >= 0 {
		seen[start.Index] = true
	}
	var order []string
	var stops []focusStop
	left, prev := false, start
	for i := 0; ; i++ {
		if i > c.Count+3 {
			j.fatalf("%s: after %d Tabs focus has not come round (a keyboard trap?): %s", page, i, strings.Join(order, " → "))
		}
		k.press("Tab")
		f := k.focus()
		if f.Body {
			left, prev = true, f
			order = append(order, f.String())
			continue
		}
		if f.Index < 0 {
			j.fatalf("%s: Tab reaches %s, which is not a visible control", page, f)
		}
		if !prev.Body && prev.Index == c.Count-1 && f.Index == 0 {
			left = true // from the last control round to the first: the browser's own stop can be skipped
			order = append(order, "(round to the top)")
		}
		if seen[f.Index] {
			break
		}
		seen[f.Index] = true
		order = append(order, f.String())
		if f.Ring != "" {
			j.fatalf("%s: %s: %s", page, f, f.Ring)
		}
		if !prev.Body && prev.Index >= 0 && !(prev.Index == c.Count-1 && f.Index == 0) && (f.Index < prev.Index || f.Top < prev.RowTop-2) {
			j.fatalf("%s: Tab goes from %s to %s, back up the page", page, prev, f)
		}
		stops = append(stops, f)
		prev = f
	}
	if !left {
		j.fatalf("%s: focus never leaves the page (a keyboard trap): %s", page, strings.Join(order, " → "))
	}
	var missing []string
	for i := 0; i < c.Count; i++ {
		if !seen[i] {
			missing = append(missing, c.Names[i])
		}
	}
	if len(missing) > 0 {
		j.fatalf("%s: Tab never reaches %s", page, strings.Join(missing, ", "))
	}
	// Shift+Tab goes back to the control before the one focused now.
	now := k.focus()
	k.press("Shift+Tab")
	back := k.focus()
	if !back.Body && back.Index >= now.Index && now.Index > 0 {
		j.fatalf("%s: Shift+Tab from %s goes to %s, not back", page, now, back)
	}
	k.press("Tab")
	if again := k.focus(); again.Index != now.Index {
		j.fatalf("%s: Tab after Shift+Tab lands on %s, not %s", page, again, now)
	}
	minRatio := 99.0
	for _, s := range stops {
		minRatio = min(minRatio, s.Ratio)
	}
	j.t.Logf("keyboard: %s: %d controls, all reached; lowest focus-ring contrast %.2f:1; order: %s", page, c.Count, minRatio, strings.Join(order, " → "))
}

// tabTo presses Tab until sel has focus, checking each stop's ring.
func (k *keyboard) tabTo(page, sel string) {
	j := k.j
	j.t.Helper()
	max := k.controls().Count + 2
	for i := 0; i < max; i++ {
		k.press("Tab")
		f := k.focus()
		if !f.Body && f.Ring != "" {
			j.fatalf("%s: %s: %s", page, f, f.Ring)
		}
		if j.eval("is it "+sel, `document.activeElement.matches(`+strconv.Quote(sel)+`) ? "yes" : "no"`) == "yes" {
			return
		}
	}
	j.fatalf("%s: %d Tabs never reach %s", page, max, sel)
}

func (k *keyboard) total() int {
	n := 0
	for _, v := range k.presses {
		n += v
	}
	return n
}

func (k *keyboard) summary() string {
	var parts []string
	for name, n := range k.presses {
		parts = append(parts, fmt.Sprintf("%s %d", name, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// keyboardJourney connects with token and, by keyboard alone, creates a
// key, verifies it, deactivates it and deletes it (a mistyped confirmation
// first).
func (c *a11yCheck) keyboardJourney(token string) {
	j := c.j
	k := &keyboard{j: j, presses: map[string]int{}}

	j.do("open /connect", chromedp.Navigate(j.app.URL+"/connect"), chromedp.WaitReady(css("footer")))
	k.focusIsOn("/connect", `textarea[name="basic_token"]`)
	k.walk("/connect")
	k.typeText(token)
	k.tabTo("/connect", `[data-testid="connect-submit"]`)
	k.pressAndLoad("Enter", "connect")

	k.focusIsOn("/keys after connecting", `[data-testid="flash"]`)
	j.flashContains("Connected to")
	k.walk("/keys")
	k.tabTo("/keys", `[data-testid="label-input"]`)
	k.typeText("keyboard only")
	k.pressAndLoad("Enter", "create the key") // Enter in a text field submits its form

	k.focusIsOn("the creation page", `[data-testid="created-alert"]`)
	keyID := j.text("the new key's id", `[data-testid="key-id"]`)
	k.walk("the creation page")
	k.tabTo("the creation page", `[data-testid="verify-new"]`)
	k.pressAndLoad("Enter", "verify it now")
	k.focusIsOn("the creation page after verifying", `[data-testid="verify-result"][data-works="true"]`)
	c.current("the creation page") // checking moves no focus
	k.tabTo("the creation page", `[data-testid="saved-secret"]`)
	k.press("Space")
	if j.eval("the box is ticked", `String(document.activeElement.checked)`) != "true" {
		j.fatalf("Space did not tick “I have saved the secret”")
	}
	k.tabTo("the creation page", `[data-testid="back-to-keys"]`)
	k.pressAndLoad("Enter", "back to the keys")

	row := keyRowSelector(keyID)
	j.wait("the new key's row", row)
	k.tabTo("/keys", row+` [data-testid="deactivate"]`)
	k.pressAndLoad("Enter", "open deactivate")
	k.focusIsOn("the deactivate confirmation", `[data-testid="confirm-submit"]`)
	k.walk("the deactivate confirmation")
	k.pressAndLoad("Enter", "deactivate")
	k.focusIsOn("/keys after deactivating", `[data-testid="flash"]`)
	j.flashContains("deactivated")

	k.tabTo("/keys", row+` [data-testid="delete"]`)
	k.pressAndLoad("Enter", "open delete")
	k.focusIsOn("the delete confirmation", `[data-testid="confirm-input"]`)
	k.walk("the delete confirmation")
	k.typeText("====")
	k.pressAndLoad("Enter", "delete with the padding typed")
	k.focusIsOn("the refused delete", `[data-testid="confirm-input"][aria-invalid="true"]`)
	announced := j.eval("the error is announced", `(() => { const e = document.querySelector('[data-testid="form-error"]'), f = document.activeElement;
		return e && (e.getAttribute("role") === "alert" || e.getAttribute("aria-live")) && (f.getAttribute("aria-describedby") || "").split(" ").includes(e.id) ? "yes" : "no"; })()`)
	if announced != "yes" {
		j.fatalf("the refused delete's error is not announced (role=alert or aria-live) or not tied to the focused field")
	}
	c.expectedProblems = append(c.expectedProblems, "status of 422")
	c.current("delete confirmation, refused")
	k.typeText(confirmFor(keyID))
	k.pressAndLoad("Enter", "delete")
	k.focusIsOn("/keys after deleting", `[data-testid="flash"]`)
	j.flashContains("deleted")
	if j.exists(row) {
		j.fatalf("the deleted key %s is still listed", keyID)
	}
	j.t.Logf("keyboard-only journey: %d keystrokes (%s) and %d characters typed (the token, a label, two confirmations), from /connect to a verified key, deactivated and deleted; the Tab walks round each page that checked it took %d more",
		k.total(), k.summary(), k.typed, k.walkKeys)
}
