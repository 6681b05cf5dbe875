package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone/cxonesim"
)

func TestBearerExpiringMidSessionIsRefreshedSilently(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	refreshes := a.Sim.Calls(cxonesim.EndpointRefresh)
	a.Sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.ExpireNow})
	p := b.get("/keys")
	if p.Status != 200 || len(b.keyRows(p)) == 0 {
		t.Fatalf("keys after the bearer expired: %d %s", p.Status, text(p))
	}
	if got := a.Sim.Calls(cxonesim.EndpointRefresh) - refreshes; got != 1 {
		t.Fatalf("%d refreshes, want 1", got)
	}
	if n := countAudit(t, a, `action = 'token.refresh' AND outcome = 'success'`); n != 1 {
		t.Errorf("%d token.refresh events, want 1", n)
	}
}

func TestDeadRefreshTokenAsksForANewBasicTokenKeepingThePage(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	a.Sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.ExpireNow})
	a.Sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointRefresh, Mode: cxonesim.ExpireNow})
	p := b.get("/keys?user=" + url.QueryEscape(admin.ID))
	if p.Status != 303 || !strings.HasPrefix(p.Location, "/connect?") || !strings.Contains(p.Location, url.QueryEscape("/keys?user=")) {
		t.Fatalf("status %d location %q, want a 303 to /connect keeping the page", p.Status, p.Location)
	}
	c := b.follow(p)
	if !strings.Contains(c.Doc.Find(`[data-testid="flash"]`).Text(), "expired") {
		t.Errorf("connect page does not say the connection expired: %s", text(c))
	}
	// Reconnecting with a new basic token returns to the page.
	tok, _ := a.Sim.BasicToken("na1", ten.ID, admin.ID)
	next, _ := c.Doc.Find(`form[data-testid="connect-form"] input[name="next"]`).Attr("value")
	r := b.post("/connect", url.Values{"region": {"na1"}, "basic_token": {tok.Reveal()}, "next": {next}})
	if r.Status != 303 || !strings.HasPrefix(r.Location, "/keys?user=") {
		t.Fatalf("reconnect: %d %q", r.Status, r.Location)
	}
	if p := b.follow(r); p.Status != 200 {
		t.Fatalf("page after reconnecting: %d %s", p.Status, text(p))
	}
}

func TestLogoutKillsTheSession(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	u, _ := url.Parse(a.URL)
	stolen := b.http.Jar.Cookies(u)
	if p := b.post("/logout", nil); p.Status != 303 {
		t.Fatalf("logout: %d", p.Status)
	}
	replay := a.browser()
	replay.http.Jar.SetCookies(u, stolen)
	if p := replay.get("/keys"); p.Status != 303 || !strings.HasPrefix(p.Location, "/connect") {
		t.Fatalf("replayed cookie after logout: %d %q", p.Status, p.Location)
	}
	var n int
	_ = a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM connections`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d connections (with their tokens) left after logout", n)
	}
}

func TestNewSessionIDOnConnect(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.get("/connect")
	u, _ := url.Parse(a.URL)
	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: "keyport", Value: "planted-by-attacker", Path: "/"}})
	b.connect("na1", ten.ID, admin.ID)
	var got string
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == "keyport" {
			got = c.Value
		}
	}
	if got == "" || got == "planted-by-attacker" {
		t.Fatalf("session cookie after connect = %q", got)
	}
}

func TestSeveralConnectionsAndSwitcher(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	var eu cxonesimTenant
	for _, tt := range a.Sim.Tenants() {
		if tt.Region == "eu1" {
			eu = tt
			break
		}
	}
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	p := b.connect("eu1", eu.ID, eu.Users[0].ID)
	if !strings.Contains(p.Doc.Find(`[data-testid="identity"]`).Text(), "eu1") {
		t.Fatalf("after the second connect: %q", p.Doc.Find(`[data-testid="identity"]`).Text())
	}
	if p.Doc.Find(`[data-testid="connection-switcher"] button`).Length() != 2 {
		t.Fatal("switcher does not list both connections")
	}
	var firstID string
	p.Doc.Find(`[data-testid="connection-switcher"] form`).EachWithBreak(func(_ int, s *goquerySelection) bool {
		action, _ := s.Attr("action")
		if !strings.Contains(s.Text(), "eu1") {
			firstID = strings.TrimSuffix(strings.TrimPrefix(action, "/connections/"), "/use")
			return false
		}
		return true
	})
	p = b.follow(b.post("/connections/"+firstID+"/use", nil))
	if !strings.Contains(p.Doc.Find(`[data-testid="identity"]`).Text(), "na1") {
		t.Fatalf("after switching: %q", p.Doc.Find(`[data-testid="identity"]`).Text())
	}
	if n := countAudit(t, a, `action = 'key.list' AND region = 'eu1' AND tenant_id = $1`, eu.ID); n == 0 {
		t.Error("the eu1 listing is not audited against the eu1 connection")
	}
	// Another session cannot use this session's connection.
	other := a.browser()
	other.connect("na1", ten.ID, admin.ID)
	if p := other.post("/connections/"+firstID+"/use", nil); p.Status != 404 {
		t.Fatalf("using another session's connection: %d", p.Status)
	}
}

func TestConnectIsRateLimited(t *testing.T) {
	a := newTestApp(t, func(s *testSetup) { s.Options.RateLimit = 4 })
	b := a.browser()
	var last int
	for i := 0; i < 4; i++ {
		last = b.post("/connect", url.Values{"region": {"na1"}, "basic_token": {"x"}}).Status
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("4th connect within a minute: %d, want 429", last)
	}
}

// A bearer close to its expiry is renewed before use, once, however many
// requests arrive together.
func TestBearerIsRenewedBeforeExpiryOncePerConnection(t *testing.T) {
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	a := newTestApp(t, func(s *testSetup) {
		s.Options.CXone = func(c *cxoneConfig) { fastCXone(c); c.Now = now }
	})
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	refreshes := a.Sim.Calls(cxonesim.EndpointRefresh)
	b.get("/keys")
	if a.Sim.Calls(cxonesim.EndpointRefresh) != refreshes {
		t.Fatal("a fresh bearer was refreshed")
	}
	mu.Lock()
	offset = 57 * time.Minute // the 60-minute bearer has 3 minutes left: inside the renewal margin
	mu.Unlock()
	var wg sync.WaitGroup
	statuses := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- b.get("/keys").Status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Fatalf("a concurrent request got %d", s)
		}
	}
	if got := a.Sim.Calls(cxonesim.EndpointRefresh) - refreshes; got != 1 {
		t.Fatalf("%d refreshes for 8 concurrent requests, want 1", got)
	}
}
