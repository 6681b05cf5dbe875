package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/pgtest"
)

// The tests in this file run the built binary as a child process, because
// what they prove (nothing lost when a process dies, stops, or is one of
// several) is about processes, not handlers.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// keyportBinary builds cmd/keyport once per test process.
func keyportBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keyport-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "keyport")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

// world is one database and one CXone simulator that portal processes
// come and go on. hook, when set, runs in the simulator before each request
// (the test's way to act at an exact moment of a CXone call).
type world struct {
	t      *testing.T
	db     string
	pool   *pgxpool.Pool
	sim    *cxonesim.Sim
	env    []string
	mu     sync.Mutex
	hook   func(r *http.Request) // before the simulator answers
	after  func(r *http.Request) // after it answered
	admin  struct{ tenant, user string }
	admins int // admins made, for their client addresses
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, db: pgtest.NewDatabase(t)}
	w.sim = cxonesim.New(cxonesim.Options{Seed: 7})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		h := w.hook
		w.mu.Unlock()
		if h != nil {
			h(r)
		}
		w.sim.Handler().ServeHTTP(rw, r)
		w.mu.Lock()
		after := w.after
		w.mu.Unlock()
		if after != nil {
			after(r)
		}
	}))
	t.Cleanup(srv.Close)
	w.sim.SetBaseURL(srv.URL)
	pool, err := pgxpool.New(context.Background(), w.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	w.pool = pool
	w.env = append(os.Environ(), "KEYPORT_DATABASE_URL="+w.db, "KEYPORT_SESSION_KEY="+newKey(),
		"KEYPORT_ENCRYPTION_KEY="+newKey(), "KEYPORT_AUDIT_KEY="+newKey(), "KEYPORT_COOKIE_SECURE=false",
		"KEYPORT_CXONE_URL_TEMPLATE="+w.sim.URLTemplate(), "KEYPORT_CXONE_JWKS_URL="+w.sim.JWKSURL(),
		"KEYPORT_LOG_FORMAT=text", "KEYPORT_SHUTDOWN_TIMEOUT=60s")
	for _, ten := range w.sim.Tenants() {
		for _, u := range ten.Users {
			if ten.Region == "na1" && u.AccessKey && w.admin.user == "" {
				w.admin.tenant, w.admin.user = ten.ID, u.ID
			}
		}
	}
	return w
}

// onCXone sets the simulator hook (nil clears it).
func (w *world) onCXone(h func(r *http.Request)) {
	w.mu.Lock()
	w.hook = h
	w.mu.Unlock()
}

// onCXoneAfter sets the hook that runs once the simulator has answered.
func (w *world) onCXoneAfter(h func(r *http.Request)) {
	w.mu.Lock()
	w.after = h
	w.mu.Unlock()
}

// portal is one running `keyport serve`.
type portal struct {
	w       *world
	cmd     *exec.Cmd
	url     string
	logs    *bytes.Buffer
	done    chan struct{}
	exitErr error
}

// start runs `keyport serve --migrate` and waits for /readyz.
func (w *world) start() *portal {
	w.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &portal{w: w, url: "http://" + addr, logs: &bytes.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(keyportBinary(w.t), "serve", "--migrate", "--addr", addr)
	p.cmd.Env = w.env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, &lockedWriter{w: p.logs}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { p.exitErr = p.cmd.Wait(); close(p.done) }()
	w.t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(p.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			w.t.Fatalf("keyport serve exited before it was ready: %v\n%s", p.exitErr, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("keyport serve not ready in 30 s:\n%s", p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *portal) signal(s syscall.Signal) { _ = p.cmd.Process.Signal(s) }

func (p *portal) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// wait waits for the process to exit and returns its exit code.
func (p *portal) wait() int {
	p.w.t.Helper()
	select {
	case <-p.done:
	case <-time.After(90 * time.Second):
		p.w.t.Fatalf("keyport serve did not exit:\n%s", p.logs)
	}
	if p.exitErr == nil {
		return 0
	}
	if ee, ok := p.exitErr.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// admin is a browser: a cookie jar, pointed at one portal or another.
type admin struct {
	w    *world
	jar  http.CookieJar
	http *http.Client
	ip   string // X-Forwarded-For, believed when the world trusts loopback proxies
}

func (w *world) newAdmin() *admin {
	jar, _ := cookiejar.New(nil)
	w.mu.Lock()
	w.admins++
	ip := fmt.Sprintf("198.51.100.%d", w.admins)
	w.mu.Unlock()
	return &admin{w: w, jar: jar, ip: ip, http: &http.Client{Jar: jar, Timeout: 120 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status   int
	body     string
	location string
	err      error
}

// do sends a request to base; the cookie jar follows the admin from one
// portal to the next (same host, so the cookie is sent to every instance).
func (a *admin) do(method, base, path string, form url.Values) answer {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
	}
	req.Header.Set("X-Forwarded-For", a.ip)
	res, err := a.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, body: string(b), location: res.Header.Get("Location")}
}

// connect pastes a fresh basic token on base's connect page.
func (a *admin) connect(base string) {
	a.w.t.Helper()
	tok, err := a.w.sim.BasicToken("na1", a.w.admin.tenant, a.w.admin.user)
	if err != nil {
		a.w.t.Fatal(err)
	}
	if r := a.do("POST", base, "/connect", url.Values{"region": {"na1"}, "basic_token": {tok.Reveal()}}); r.status != 303 {
		a.w.t.Fatalf("connect: %d %v %.300s", r.status, r.err, r.body)
	}
}

var intentField = regexp.MustCompile(`name="intent" value="([^"]+)"`)

// createForm loads the keys page and returns a create form for label.
func (a *admin) createForm(base, label string) url.Values {
	a.w.t.Helper()
	r := a.do("GET", base, "/keys", nil)
	m := intentField.FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		a.w.t.Fatalf("keys page: %d %v %.300s", r.status, r.err, r.body)
	}
	return url.Values{"intent": {m[1]}, "label": {label}}
}

// scalar runs a query returning one value.
func (w *world) scalar(sql string, args ...any) int64 {
	w.t.Helper()
	var n int64
	if err := w.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// openIntents counts intents without an outcome.
func (w *world) openIntents() int64 {
	return w.scalar(`SELECT count(*) FROM audit_events i WHERE i.outcome = 'intent'
		AND NOT EXISTS (SELECT 1 FROM audit_events o WHERE o.intent_id = i.id)`)
}
