package composetest

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browser is a person at a browser: a cookie jar, no redirects followed, the
// page's own Origin on every form post (Keyport's CSRF check).
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status         int
	body, location string
}

func (b *browser) try(method, path string, form url.Values) (page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		return page{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
	}
	res, err := b.c.Do(req)
	if err != nil {
		return page{}, err
	}
	defer res.Body.Close()
	all, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(all), res.Header.Get("Location")}, nil
}

// must sends a request and fails unless it answers want.
func (b *browser) must(want int, method, path string, form url.Values) page {
	b.t.Helper()
	pg, err := b.try(method, path, form)
	if err != nil || pg.status != want {
		b.t.Fatalf("%s %s: %d %v, want %d\n%.600s", method, path, pg.status, err, want, pg.body)
	}
	return pg
}

var (
	intentField = regexp.MustCompile(`name="intent" value="([^"]+)"`)
	keyIDField  = regexp.MustCompile(`data-testid="key-id">([^<]+)<`)
	confirmCode = regexp.MustCompile(`data-testid="confirm-code">([^<]+)<`)
	secretField = regexp.MustCompile(`data-testid="key-secret">([^<]+)<`)
	basicToken  = regexp.MustCompile(`(?s)data-testid="basic-token"[^>]*>([^<]+)</textarea>`)
)

// basicTokenFromSim does what a newcomer does on the simulator's Generate Key
// page (on the host, 127.0.0.1): pick the first na1 tenant's admin, generate.
func (p *project) basicTokenFromSim() string {
	p.t.Helper()
	res, err := http.Get(p.sim + "/control/tenants")
	if err != nil {
		p.t.Fatal(err)
	}
	var tenants []struct {
		ID, Region string
		Users      []struct{ ID string }
	}
	err = json.NewDecoder(res.Body).Decode(&tenants)
	res.Body.Close()
	if err != nil {
		p.t.Fatal(err)
	}
	for _, x := range tenants {
		if x.Region == "na1" && len(x.Users) > 0 {
			p.adminTenant, p.admin = x.ID, x.Users[0].ID
			break
		}
	}
	sim := newBrowser(p.t, p.sim)
	sim.must(200, "GET", "/na1/generate-key", nil)
	pg := sim.must(200, "POST", "/na1/generate-key", url.Values{"tenant": {p.adminTenant}, "user": {p.adminTenant + "/" + p.admin}})
	m := basicToken.FindStringSubmatch(pg.body)
	if m == nil {
		p.t.Fatalf("no basic token on the Generate Key page:\n%.600s", pg.body)
	}
	tok := strings.TrimSpace(html.UnescapeString(m[1]))
	p.secrets["basic token"] = tok
	return tok
}

// createKey creates a key with label on the portal and returns its id.
func (p *project) createKey(b *browser, label string) string {
	p.t.Helper()
	m := intentField.FindStringSubmatch(b.must(200, "GET", "/keys", nil).body)
	if m == nil {
		p.t.Fatal("no create form on /keys")
	}
	pg := b.must(200, "POST", "/keys", url.Values{"intent": {m[1]}, "label": {label}})
	id, sec := keyIDField.FindStringSubmatch(pg.body), secretField.FindStringSubmatch(pg.body)
	if id == nil || sec == nil {
		p.t.Fatalf("the created page shows no key id or secret:\n%.600s", pg.body)
	}
	p.secrets["access key secret "+id[1]] = html.UnescapeString(sec[1])
	return html.UnescapeString(id[1])
}

// demoFlow: connect with a basic token from the simulator, then create,
// list, deactivate and delete a key over HTTP on 127.0.0.1. It returns the
// signed-in admin and a second key that stays.
func (p *project) demoFlow() (*browser, string) {
	t0 := time.Now()
	tok := p.basicTokenFromSim()
	admin := newBrowser(p.t, p.portal)
	if pg := admin.must(303, "POST", "/connect", url.Values{"region": {"na1"}, "basic_token": {tok}}); pg.location == "" {
		p.t.Fatal("connect: no redirect")
	}
	gone := p.createKey(admin, "composetest gone")
	kept := p.createKey(admin, "composetest kept")
	list := admin.must(200, "GET", "/keys", nil).body
	for _, id := range []string{gone, kept} {
		if !strings.Contains(list, `data-key-id="`+id+`"`) {
			p.t.Fatalf("/keys does not list %s", id)
		}
	}
	admin.must(303, "POST", "/keys/"+gone+"/deactivate", url.Values{})
	// Type what the confirmation page asks for, as a person would.
	m := confirmCode.FindStringSubmatch(admin.must(200, "GET", "/keys/"+gone+"/delete", nil).body)
	if m == nil {
		p.t.Fatal("the delete confirmation asks for no code")
	}
	admin.must(303, "POST", "/keys/"+gone+"/delete", url.Values{"confirm": {m[1]}})
	list = admin.must(200, "GET", "/keys", nil).body
	if strings.Contains(list, `data-key-id="`+gone+`"`) || !strings.Contains(list, `data-key-id="`+kept+`"`) {
		p.t.Fatalf("after delete /keys should list %s only", kept)
	}
	p.t.Logf("figure: demo on 127.0.0.1 (Generate Key, connect, create ×2, list, deactivate, delete): %.1f s", time.Since(t0).Seconds())
	return admin, kept
}

func (p *project) reviewerSeesTrail(kept string) {
	pw := randomHex(12)
	p.secrets["reviewer password"] = pw
	out, err := p.composeIn(pw+"\n", "exec", "-T", "keyport", "keyport", "reviewer", "add", "--username", "compose-reviewer")
	if err != nil {
		p.t.Fatalf("reviewer add: %v\n%s", err, out)
	}
	r := newBrowser(p.t, p.portal)
	r.must(200, "GET", "/reviewer/login", nil)
	r.must(303, "POST", "/reviewer/login", url.Values{"username": {"compose-reviewer"}, "password": {pw}})
	trail := r.must(200, "GET", "/audit", nil).body
	if !strings.Contains(trail, kept) || !strings.Contains(trail, "key.delete") {
		p.t.Fatalf("the reviewer's trail lacks the demo's key %s or its key.delete:\n%.600s", kept, trail)
	}
	p.t.Logf("figure: reviewer added with docker compose exec signs in; /audit shows the demo's actions")
}
