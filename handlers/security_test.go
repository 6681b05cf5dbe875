package handlers_test

// The security regression suite (issue 26, docs/asvs.md): each test here is
// named by the ASVS 5.0 requirements it holds Keyport to, walks the router's
// table where a check applies to every route (so a route added later is
// covered without editing this file), and was seen to fail against a build
// broken on purpose (docs/asvs.md, "The regression suite").

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/oidctest"
)

// awayFrom are places a redirect must never lead: other hosts, spelled
// the ways browsers still read as one.
var awayFrom = []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "/%2F%2Fevil.example",
	"javascript:alert(1)", "/\t/evil.example", "http:evil.example", " //evil.example", "/keys@evil.example", "https:/\\evil.example"}

// onSite returns a check that loc, as a browser resolves it from base
// (backslashes read as slashes), stays on base's host.
func onSite(t *testing.T, base string) func(where, loc string) {
	self, _ := url.Parse(base)
	return func(where, loc string) {
		t.Helper()
		u, err := url.Parse(strings.ReplaceAll(loc, "\\", "/"))
		if err != nil || u.Scheme != "" || u.Host != "" || self.ResolveReference(u).Host != self.Host || strings.ContainsAny(loc, "\t\r\n") {
			t.Errorf("%s sends the browser to %q", where, loc)
		}
	}
}

// V3.7.2 (redirects only to an allowlist): the connect form's next (the
// one parameter that names a place to go) is refused unless it is a path on
// this site, and no parameter moves an admin's sign-out elsewhere.
func TestNextNeverLeavesTheSite(t *testing.T) {
	a := newTestApp(t, func(s *testSetup) { s.Options.RateLimit = 1 << 20 })
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	local := onSite(t, a.URL)
	tok, err := a.Sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range awayFrom {
		b := a.browser()
		if form := b.get("/connect?next=" + url.QueryEscape(to)); form.Status < 400 {
			if v, _ := form.Doc.Find(`input[name="next"]`).Attr("value"); v != "" {
				local("the connect form's next", v)
			}
		}
		res := b.post("/connect", url.Values{"region": {"na1"}, "basic_token": {tok.Reveal()}, "next": {to}})
		if res.Status == http.StatusSeeOther {
			local(fmt.Sprintf("connect with next=%q", to), res.Location)
		} else if res.Status < 400 || res.Status >= 500 {
			t.Errorf("connect with next=%q: %d", to, res.Status)
		}
	}
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	if lo := b.post("/logout?return_to="+url.QueryEscape("//evil.example/"), url.Values{"redirect": {"//evil.example/"}}); lo.Status != http.StatusSeeOther {
		t.Errorf("admin sign-out: %d", lo.Status)
	} else {
		local("admin sign-out", lo.Location)
	}
}

// V3.7.2, V10.1.2 (the OIDC flow bound to the browser and the configured
// addresses): the OIDC start, its callback and the reviewer's sign-out,
// sent next (refused) or parameters naming another host (ignored), with a
// forged X-Forwarded-Host, lead only to the provider with the configured
// redirect and post-logout addresses, or to Keyport's own pages.
func TestOIDCRedirectsGoOnlyWhereConfigured(t *testing.T) {
	a, p := newOIDCApp(t, false)
	local := onSite(t, a.URL)
	b := a.browser()
	configured := a.Config.OIDC.RedirectURL
	for _, q := range []string{"", "?next=//evil.example/", "?redirect_uri=https://evil.example/cb", "?return_to=https://evil.example/"} {
		start := b.get("/reviewer/oidc/start" + q)
		if start.Status >= 400 && start.Status < 500 {
			continue // refused at the input boundary
		}
		u, err := url.Parse(start.Location)
		if start.Status != http.StatusSeeOther || err != nil || !strings.HasPrefix(start.Location, p.Issuer) {
			t.Fatalf("oidc start%s: %d to %q", q, start.Status, start.Location)
		}
		if got := u.Query().Get("redirect_uri"); got != configured {
			t.Errorf("oidc start%s asks the provider to come back to %q, want %q", q, got, configured)
		}
	}
	start := b.get("/reviewer/oidc/start")
	back, err := url.Parse(p.SignIn(t, start.Location, oidctest.Ada))
	if err != nil {
		t.Fatal(err)
	}
	q := back.Query()
	q.Set("next", "//evil.example/")
	back.RawQuery = q.Encode()
	if cb := b.get(back.RequestURI()); cb.Status < 400 || cb.Status >= 500 {
		t.Errorf("the OIDC callback with next=//evil.example/: %d to %q, want it refused", cb.Status, cb.Location)
	}
	q.Del("next")
	q.Set("redirect_uri", "https://evil.example/")
	q.Set("return_to", "https://evil.example/")
	back.RawQuery = q.Encode()
	cb := b.get(back.RequestURI())
	if cb.Status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", cb.Status, text(cb))
	}
	local("the OIDC callback", cb.Location)
	if out := b.post("/reviewer/logout?next="+url.QueryEscape("//evil.example/"), nil); out.Status < 400 || out.Status >= 500 {
		t.Errorf("sign-out with next=//evil.example/: %d to %q, want it refused", out.Status, out.Location)
	}
	oidcSignOutGoesToTheConfiguredAddress(t, a, b, p.Issuer)
}

// oidcSignOutGoesToTheConfiguredAddress signs b out with parameters naming
// another host and a forged X-Forwarded-Host: the provider's end-session
// page, coming back to the configured origin (or Keyport's own page).
func oidcSignOutGoesToTheConfiguredAddress(t *testing.T, a *testApp, b *browser, issuer string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/reviewer/logout?post_logout_redirect_uri="+url.QueryEscape("https://evil.example/"),
		strings.NewReader(url.Values{"return_to": {"https://evil.example/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "http")
	out := b.do(req)
	lo, err := url.Parse(out.Location)
	if out.Status != http.StatusSeeOther || err != nil {
		t.Fatalf("sign-out: %d %q", out.Status, out.Location)
	}
	if lo.Host == "" {
		onSite(t, a.URL)("sign-out", out.Location)
		return
	}
	want, _ := url.Parse(a.Config.OIDC.RedirectURL)
	if !strings.HasPrefix(out.Location, issuer) || lo.Query().Get("post_logout_redirect_uri") != want.Scheme+"://"+want.Host+"/reviewer/login" {
		t.Errorf("sign-out sends the browser to %q", out.Location)
	}
}

// V4.1.3 (headers set by an intermediary cannot be overridden), V3.7.2:
// every page, whatever Host and X-Forwarded-* a client sends, names no host
// but its own and the configured ones: the OIDC redirect and post-logout
// addresses come from configuration, never from the request.
func TestHostAndForwardedHeadersBuildNoURL(t *testing.T) {
	a, p := newOIDCApp(t, false)
	s := signInEverywhere(t, a)
	tamper := func(req *http.Request) {
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Proto", "http")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("Forwarded", "host=evil.example;proto=http")
		req.Header.Set("X-Original-URL", "//evil.example/")
		req.Header.Set("X-Rewrite-URL", "//evil.example/")
	}
	checked := 0
	for _, r := range routesOf(a) {
		if r.Method != http.MethodGet {
			continue
		}
		req, _ := http.NewRequest(http.MethodGet, a.URL+s.fill(r.Path, "", ""), nil)
		tamper(req)
		res, err := s.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for where, v := range map[string]string{"body": string(body), "Location": res.Header.Get("Location"),
			"Content-Security-Policy": res.Header.Get("Content-Security-Policy")} {
			if strings.Contains(v, "evil.example") {
				t.Errorf("GET %s with a forged Host: its %s names it", r.Path, where)
			}
		}
		if res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), p.Issuer) {
			u, _ := url.Parse(res.Header.Get("Location"))
			if got := u.Query().Get("redirect_uri"); got != a.Config.OIDC.RedirectURL {
				t.Errorf("GET %s with a forged Host asks the provider to come back to %q", r.Path, got)
			}
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d GET routes: the route walk is broken", checked)
	}
}

// securityHeadersOf fails unless h carries the headers every response must:
// a CSP that forbids framing, plugins and <base>, nosniff, and DENY.
func securityHeadersOf(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: Content-Security-Policy %q lacks %s", what, csp, d)
		}
	}
	for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin", "Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s %q, want %q", what, name, got, want)
		}
	}
}

// charsetOf fails when a text answer with a body does not name its
// character set (V4.1.1).
func charsetOf(t *testing.T, what string, h http.Header, body []byte) {
	t.Helper()
	ct := strings.ToLower(h.Get("Content-Type"))
	if len(body) == 0 || strings.HasPrefix(ct, "image/") || strings.HasPrefix(ct, "font/") {
		return
	}
	if ct == "" || !strings.Contains(ct, "charset=") {
		t.Errorf("%s: a %d-byte body with Content-Type %q", what, len(body), ct)
	}
}

// V3.4.2 to V3.4.6 (no CORS, CSP, nosniff, Referrer-Policy,
// frame-ancestors on every response), V4.1.1 (a charset on every text
// body), V13.4.3 and V13.4.4 (no directory listing, no TRACE): every route
// in the router's table, signed in and not, each method, plus error pages
// (404, 405, a cross-site POST, an oversized body, a preflight), a static
// asset and a missing one. Over TLS (X-Forwarded-Proto from the proxy)
// every answer is HSTS for a year, subdomains included (V3.4.1).
func TestEveryResponseForbidsFramingAndSniffing(t *testing.T) {
	a := newTestApp(t, func(s *testSetup) { s.Options.RateLimit = 1 << 20 })
	s := signInEverywhere(t, a)
	anon := a.browser()
	check := func(who *browser, method, path string, form url.Values, hdr map[string]string) *http.Response {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, a.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Origin", a.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := who.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		what := fmt.Sprintf("%s %s (%d)", method, path, res.StatusCode)
		securityHeadersOf(t, what, res.Header)
		charsetOf(t, what, res.Header, got)
		return res
	}
	n := 0
	for _, r := range routesOf(a) {
		path := s.fill(r.Path, "", "")
		var form url.Values
		if r.Method == http.MethodPost {
			form = url.Values{}
		}
		for _, who := range []*browser{anon, s.browser} {
			check(who, r.Method, path, form, nil)
			n++
		}
	}
	if n < 80 {
		t.Fatalf("only %d requests: the route walk is broken", n)
	}
	keys := s.get("/connect")
	css, _ := keys.Doc.Find(`link[rel="stylesheet"]`).Attr("href")
	if css == "" {
		t.Fatal("no stylesheet on the connect page")
	}
	for _, c := range []struct {
		method, path string
		form         url.Values
		hdr          map[string]string
		status       int
	}{
		{http.MethodGet, "/no-such-page", nil, nil, 404},
		{http.MethodPut, "/keys", url.Values{}, nil, 405},
		{http.MethodPost, "/keys", url.Values{"label": {"x"}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{http.MethodPost, "/connect", url.Values{"basic_token": {strings.Repeat("A", 70<<10)}}, nil, 413},
		{http.MethodGet, css, nil, nil, 200},
		{http.MethodGet, "/static/no-such-asset.css", nil, nil, 404},
		{http.MethodGet, "/static/", nil, nil, 404}, // no directory listing (V13.4.3)
		{http.MethodGet, "/static/vendor/", nil, nil, 404},
		{"TRACE", "/", nil, nil, 405}, // V13.4.4
		{http.MethodOptions, "/keys", nil, map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, 204}, // echo answers Allow, and no CORS header
		{http.MethodGet, "/connect", nil, map[string]string{"X-Forwarded-Proto": "https"}, 200},
	} {
		res := check(s.browser, c.method, c.path, c.form, c.hdr)
		if res.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, res.StatusCode, c.status)
		}
		if c.hdr["X-Forwarded-Proto"] == "https" {
			if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
				t.Errorf("over TLS: Strict-Transport-Security %q, want a year with subdomains", got)
			}
		}
	}
}

// V3.3.1, V3.3.2, V3.3.3, V3.3.4 (cookie flags and prefixes), in both
// cookie modes: with KEYPORT_COOKIE_SECURE=true (the default) every cookie
// Keyport sets is __Host- (so Secure, Path=/, no Domain), HttpOnly and
// SameSite=Lax; with false (plain-HTTP development only) the same without
// Secure and so without a prefix, which browsers would refuse.
func TestCookiesAreHostOnlyHTTPOnlyAndLax(t *testing.T) {
	for _, secure := range []bool{true, false} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			a := newTestApp(t, func(s *testSetup) { s.Config.CookieSecure = secure })
			ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
			addReviewer(t, a, "rita")
			tok, err := a.Sim.BasicToken("na1", ten.ID, admin.ID)
			if err != nil {
				t.Fatal(err)
			}
			var cookies []*http.Cookie
			for _, p := range []*page{
				a.browser().post("/connect", url.Values{"region": {"na1"}, "basic_token": {tok.Reveal()}}),
				a.browser().post("/auditor/login", url.Values{"username": {"rita"}, "password": {reviewerPassword}}),
			} {
				if p.Status != http.StatusSeeOther {
					t.Fatalf("sign-in: %d %s", p.Status, text(p))
				}
				cookies = append(cookies, (&http.Response{Header: p.Header}).Cookies()...)
			}
			if len(cookies) < 2 {
				t.Fatalf("%d cookies set by the admin and the reviewer sign-in", len(cookies))
			}
			names := map[string]bool{}
			for _, c := range cookies {
				names[c.Name] = true
				if c.Secure != secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
					t.Errorf("cookie %s: Secure %v HttpOnly %v SameSite %v Path %q Domain %q", c.Name, c.Secure, c.HttpOnly, c.SameSite, c.Path, c.Domain)
				}
				if secure != strings.HasPrefix(c.Name, "__Host-") || (!secure && strings.HasPrefix(c.Name, "__Secure-")) {
					t.Errorf("cookie %s with Secure %v", c.Name, secure)
				}
			}
			if len(names) < 2 {
				t.Errorf("admin and reviewer sessions share a cookie name: %v", names)
			}
		})
	}
}

// V3.2.1 (no rendering in the wrong context), V4.1.1 (Content-Type with a
// charset), V5.4.1 and V5.4.2 (a server-chosen, quoted file name): every
// download (the two audit exports, the credential report and a key's
// .env) is an attachment named by Keyport, with its own type and charset,
// nosniff and no-store. A tenant name carrying a line break cannot add a
// line to the .env (names are cleaned of control characters).
func TestDownloadsAreAttachmentsThatAreNeverSniffed(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	if err := a.Sim.Rename("na1", ten.ID, "Acme\nCXONE_ACCESS_KEY_ID=evil", admin.ID, admin.Email); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	_, created := b.createKey("downloads")
	keyID := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	secretText := strings.TrimSpace(created.Doc.Find(`[data-testid="key-secret"]`).Text())
	env := b.post("/keys/"+keyID+"/env", url.Values{"access_key_secret": {secretText}})
	if !strings.Contains(env.Body, "\nCXONE_ACCESS_KEY_ID="+keyID+"\n") || strings.Contains(env.Body, "\nCXONE_ACCESS_KEY_ID=evil") {
		t.Errorf("the .env has a line from the tenant's name:\n%s", strings.ReplaceAll(env.Body, secretText, "[secret]"))
	}
	addReviewer(t, a, "rita")
	r := a.browser()
	r.signInReviewer("rita")
	for _, c := range []struct {
		p         *page
		what, ct  string
		name, ext string
	}{
		{r.get("/audit/export.csv?action=key.create"), "audit CSV", "text/csv; charset=utf-8", "keyport-audit-", ".csv"},
		{r.get("/audit/export.jsonl"), "audit JSON lines", "application/jsonl; charset=utf-8", "keyport-audit-", ".jsonl"},
		{r.get("/audit/credentials.csv"), "credential report", "text/csv; charset=utf-8", "keyport-credentials-", ".csv"},
		{env, ".env", "text/plain; charset=utf-8", "keyport-access-key", ".env"},
	} {
		h := c.p.Header
		if c.p.Status != 200 || h.Get("Content-Type") != c.ct {
			t.Errorf("%s: %d, Content-Type %q, want %q", c.what, c.p.Status, h.Get("Content-Type"), c.ct)
		}
		cd := h.Get("Content-Disposition")
		if !strings.HasPrefix(cd, `attachment; filename="`+c.name) || !strings.HasSuffix(cd, c.ext+`"`) || strings.Count(cd, `"`) != 2 {
			t.Errorf("%s: Content-Disposition %q", c.what, cd)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: X-Content-Type-Options %q, Cache-Control %q", c.what, h.Get("X-Content-Type-Options"), h.Get("Cache-Control"))
		}
	}
}
