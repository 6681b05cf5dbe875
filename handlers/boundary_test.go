package handlers_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
)

// hostile are values no field accepts: each must be refused with a 4xx
// wherever it is sent.
var hostile = []struct{ name, v string }{
	{"NUL", "a\x00b"},
	{"invalid UTF-8", "a\xff\xfeb"},
	{"control character", "a\x07b"},
	{"1 MiB", strings.Repeat("A", 1<<20)},
}

// everyField is every query parameter and form field a handler reads, plus
// one no handler reads.
var everyField = []string{
	"region", "next", "basic_token", "access_key_id", "access_key_secret", "intent", "label", "user_id", "user",
	"rotation", "username", "password", "totp", "from", "to", "tenant", "area", "actor", "action", "outcome",
	"key", "request", "q", "before", "after", "unknown_field",
}

// signedInEverywhere is a browser with an admin connection (and a key with
// an open creation page) and a signed-in reviewer, plus a valid value for
// every path parameter.
type signedInEverywhere struct {
	*browser
	params map[string]string
}

func signInEverywhere(t *testing.T, a *testApp) signedInEverywhere {
	t.Helper()
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	connPage := b.get("/connect")
	connAction, _ := connPage.Doc.Find(`form[action^="/connections/"]`).First().Attr("action")
	conn := strings.Split(connAction, "/")
	if len(conn) < 3 {
		t.Fatalf("no disconnect form on the connect page: %s", text(connPage))
	}
	_, created := b.createKey("boundary")
	keyID := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	addReviewer(t, a, "rita")
	b.signInReviewer("rita")
	return signedInEverywhere{b, map[string]string{
		"key": keyID, "conn": conn[2], "rotation": "0b9c2c61-9b2e-4c4e-8f33-3c1f2b1a0d9e",
		"event": "1", "run": "1",
	}}
}

var pathParam = regexp.MustCompile(`:[a-z]+`)

// fill puts the valid value of each path parameter into a route's path,
// except the one named bad, which gets badValue (escaped).
func (s signedInEverywhere) fill(route, bad, badValue string) string {
	return pathParam.ReplaceAllStringFunc(strings.ReplaceAll(route, "*", "x"), func(m string) string {
		if m[1:] == bad {
			return url.PathEscape(badValue)
		}
		return url.PathEscape(s.params[m[1:]])
	})
}

func (s signedInEverywhere) send(method, path string, query, form url.Values) (int, string) {
	s.t.Helper()
	body := ""
	if form != nil {
		body = form.Encode()
	}
	return s.sendRaw(method, path, query.Encode(), body, form != nil)
}

// sendRaw sends an encoded query and body (encoding 1 MiB once per value,
// not once per request, keeps the walk fast).
func (s signedInEverywhere) sendRaw(method, path, query, body string, hasBody bool) (int, string) {
	s.t.Helper()
	target := s.app.URL + path
	if query != "" {
		target += "?" + query
	}
	var r io.Reader
	if hasBody {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Origin", s.app.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b)
}

// routesOf lists the router's table with the session-ending routes last.
func routesOf(a *testApp) []*echo.Route {
	var rs []*echo.Route
	for _, r := range a.App.Echo.Routes() {
		if r.Method != "echo_route_not_found" {
			rs = append(rs, r)
		}
	}
	sort.SliceStable(rs, func(i, j int) bool {
		return !strings.HasSuffix(rs[i].Path, "logout") && strings.HasSuffix(rs[j].Path, "logout")
	})
	return rs
}

// Every parameter of every route, sent NUL, invalid UTF-8, a control
// character or 1 MiB, answers 4xx: never 5xx, never an echo of the value.
// The route walk covers routes added later.
func TestEveryParameterOfEveryRouteRefusesHostileBytes(t *testing.T) {
	a := newTestApp(t, func(s *testSetup) { s.Options.RateLimit = 1 << 20 })
	s := signInEverywhere(t, a)
	var fails []string
	requests := 0
	check := func(what string, status int, body string, v string) {
		requests++
		if status >= 500 || status < 400 {
			fails = append(fails, fmt.Sprintf("%s: status %d", what, status))
		}
		if len(v) < 100 && strings.Contains(body, v) {
			fails = append(fails, what+": the value is reflected")
		}
	}
	encoded := make([]string, len(hostile))
	for i, h := range hostile {
		encoded[i] = url.QueryEscape(h.v)
	}
	fullWalk := map[string]bool{"/connect": true, "/keys": true, "/reviewer/login": true, "/audit": true}
	for _, r := range routesOf(a) {
		hasBody := r.Method == http.MethodPost
		for _, name := range pathParam.FindAllString(r.Path, -1) {
			for _, h := range hostile {
				status, body := s.send(r.Method, s.fill(r.Path, name[1:], h.v), nil, form(hasBody))
				check(fmt.Sprintf("%s %s with %s in %s", r.Method, r.Path, h.name, name), status, body, h.v)
			}
		}
		base := form(hasBody).Encode()
		for fi, f := range everyField {
			for i, h := range hostile {
				// 1 MiB costs ~40 ms a request under -race: every route gets
				// it in one field, every field gets it on the form routes.
				if len(h.v) > 1<<16 && fi > 0 && !fullWalk[r.Path] {
					continue
				}
				path := s.fill(r.Path, "", "")
				pair := f + "=" + encoded[i]
				status, body := s.sendRaw(r.Method, path, pair, base, hasBody)
				check(fmt.Sprintf("%s %s with %s in query %s", r.Method, r.Path, h.name, f), status, body, h.v)
				if hasBody {
					status, body = s.sendRaw(r.Method, path, "", base+"&"+pair, true)
					check(fmt.Sprintf("%s %s with %s in form field %s", r.Method, r.Path, h.name, f), status, body, h.v)
				}
			}
		}
	}
	if len(fails) > 0 {
		sort.Strings(fails)
		t.Fatalf("%d of %d hostile requests were not answered with a clean 4xx; first ones:\n%s",
			len(fails), requests, strings.Join(fails[:min(len(fails), 25)], "\n"))
	}
	if requests < 7000 {
		t.Fatalf("only %d hostile requests: the route walk is broken", requests)
	}
	if ok, err := verifyTrail(a); !ok {
		t.Fatalf("audit chain after the hostile walk: %v", err)
	}
	if strings.Contains(a.Log.String(), `"level":"ERROR"`) {
		t.Errorf("the hostile walk logged errors:\n%s", firstLines(a.Log.String(), `"level":"ERROR"`, 5))
	}
	t.Logf("%d hostile requests over %d routes, every one 4xx", requests, len(routesOf(a)))
}

// form is a valid-looking body for a POST, so a hostile field is the only
// thing wrong with it.
func form(hasBody bool) url.Values {
	if !hasBody {
		return nil
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return url.Values{"region": {"na1"}, "intent": {fmt.Sprintf("%x", b)}}
}

func firstLines(s, containing string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, containing) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A refused value on a form keeps the rest of what was typed and names the
// field; the value never reaches CXone or the database.
func TestRefusedLabelKeepsTheFormAndCreatesNothing(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	before := len(b.keyRows(keys))
	token, _ := keys.Doc.Find(`form[data-testid="create-form"] input[name="intent"]`).Attr("value")
	p := b.post("/keys", url.Values{"intent": {token}, "label": {"bad\xfflabel"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(text(p), "label is not valid UTF-8") {
		t.Fatalf("invalid UTF-8 label: status %d: %s", p.Status, text(p))
	}
	if p.Doc.Find(`form[data-testid="create-form"]`).Length() != 1 {
		t.Fatal("the create form is not shown again")
	}
	if got := len(b.keyRows(b.get("/keys"))); got != before {
		t.Fatalf("keys went from %d to %d after a refused label", before, got)
	}

	login := b.post("/auditor/login", url.Values{"username": {"alice\x00"}, "password": {"x"}})
	if login.Status != http.StatusUnprocessableEntity || !strings.Contains(text(login), "username contains a NUL") {
		t.Fatalf("NUL username: status %d: %s", login.Status, text(login))
	}
	audit := b.get("/audit?tenant=" + url.QueryEscape(ten.ID) + "&q=%00")
	if audit.Status != http.StatusUnauthorized && audit.Status != http.StatusSeeOther && audit.Status != http.StatusUnprocessableEntity {
		t.Fatalf("audit filter with NUL: status %d", audit.Status)
	}
}

// A body over the limit is 413 whatever its transfer encoding, and the
// portal reads no more of it than the limit.
func TestOversizedChunkedBodyIs413(t *testing.T) {
	a := newTestApp(t)
	for _, path := range []string{"/connect", "/keys", "/auditor/login"} {
		body := "region=na1&label=" + strings.Repeat("x", 10<<20)
		// Over the network, chunked: the status and the page.
		req, _ := http.NewRequest(http.MethodPost, a.URL+path, io.NopCloser(strings.NewReader(body)))
		req.ContentLength = -1 // chunked
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(page), "larger than Keyport accepts") {
			t.Errorf("%s chunked 10 MiB: status %d", path, res.StatusCode)
		}
		// In process, where nothing but the portal reads the body: how
		// much it read. (Over a socket the client's count would include
		// what the kernel buffered, which varies from run to run.)
		counted := &countingReader{r: strings.NewReader(body)}
		in := httptest.NewRequest(http.MethodPost, path, io.NopCloser(counted))
		in.ContentLength = -1
		in.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		a.App.Handler().ServeHTTP(rec, in)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s in process: status %d", path, rec.Code)
		}
		if n := counted.n.Load(); n > 64<<10+1 {
			t.Errorf("%s: the portal read %d bytes of an oversized body, limit %d", path, n, 64<<10)
		}
	}
}

// countingReader counts what the client's transport has read from it (on
// its own goroutine, hence atomic).
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Every page answers HEAD like GET, and no page a session can see is
// cacheable: after Sign out, Back must not show it.
func TestEveryGETRouteAnswersHEADAndIsNeverCached(t *testing.T) {
	a := newTestApp(t)
	s := signInEverywhere(t, a)
	checked := 0
	for _, r := range routesOf(a) {
		if r.Method != http.MethodGet {
			continue
		}
		path := s.fill(r.Path, "", "")
		if strings.Contains(r.Path, "*") {
			continue // static assets: immutable by hash, tested in TestStaticAssetsServedImmutableByHash
		}
		getStatus, _ := s.send(http.MethodGet, path, nil, nil)
		req, _ := http.NewRequest(http.MethodHead, s.app.URL+path, nil)
		res, err := s.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusMethodNotAllowed || res.StatusCode >= 500 {
			t.Errorf("HEAD %s: status %d (GET: %d)", r.Path, res.StatusCode, getStatus)
		}
		if len(body) != 0 {
			t.Errorf("HEAD %s sent a body", r.Path)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", r.Path, cc)
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d GET routes: the route walk is broken", checked)
	}
}
