// Package browsertest starts Debian's headless Chromium for browser tests and
// records what its console reports. It never downloads a browser: a machine
// without Chromium fails the test and is told to run `make deps`.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ExecPath finds Chromium in PATH.
func ExecPath() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found in PATH (looked for chromium and chromium-browser): run `make deps` to install it")
}

// Browser is one headless Chromium with one tab, for one test.
type Browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string
	changed  chan struct{} // closed and replaced when problems grows
}

// Start launches Chromium with a fresh profile in a temp dir and opens a tab.
// The browser exits when the test ends. A missing Chromium fails the test.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := ExecPath()
	if err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir() // registered first, so removed after Chromium exits
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)

	b := &Browser{ctx: ctx, changed: make(chan struct{})}
	// Listen starts the browser; the func sees each event before the reply to
	// the command that follows it, so a check after an action misses nothing.
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("start %s: %v (run `make deps` if Chromium is missing or broken)", path, err)
	}
	return b
}

// Context is the tab's context, for chromedp.Run and chromedp.Do.
func (b *Browser) Context() context.Context { return b.ctx }

// record keeps console errors, uncaught exceptions and anything about a
// Content Security Policy. It runs in chromedp's read loop: no commands here.
func (b *Browser) record(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg = "exception: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		msg += " at " + d.URL
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, cmpOr(a.Description, string(a.Value)))
		}
		msg = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
	case *log.EventEntryAdded:
		en := e.Entry
		if en.Level != log.EntryLevelError && !mentionsCSP(en.Text) {
			return
		}
		// The browser asks for /favicon.ico on its own; no page links it.
		if en.Source == log.EntrySourceNetwork && strings.HasSuffix(en.URL, "/favicon.ico") {
			return
		}
		msg = fmt.Sprintf("log %s/%s: %s (%s)", en.Source, en.Level, en.Text, en.URL)
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, msg)
	close(b.changed)
	b.changed = make(chan struct{})
}

func mentionsCSP(s string) bool { return strings.Contains(s, "Content Security Policy") }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Problems returns what the console reported so far: errors, uncaught
// exceptions and Content Security Policy violations.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// WaitProblem waits until a reported problem contains substr, and returns it.
func (b *Browser) WaitProblem(ctx context.Context, substr string) (string, error) {
	for {
		b.mu.Lock()
		for _, p := range b.problems {
			if strings.Contains(p, substr) {
				b.mu.Unlock()
				return p, nil
			}
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("no console problem containing %q: %w", substr, ctx.Err())
		}
	}
}
