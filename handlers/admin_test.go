package handlers_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/keyport/keyport/cxone/cxonesim"
)

// tenantUsers returns the n-th seeded tenant of region, its admin and a
// plain user.
func tenantUsers(t *testing.T, sim *cxonesim.Sim, region string, n int) (cxonesim.Tenant, cxonesim.User, cxonesim.User) {
	t.Helper()
	ten, admin, user, ok := sim.SeededTenant(region, n)
	if !ok {
		t.Fatalf("no tenant #%d in %s with an admin and a plain user", n, region)
	}
	return ten, admin, user
}

// connect signs b in as user of tenant through the connect form.
func (b *browser) connect(region, tenantID, userID string) *page {
	b.t.Helper()
	tok, err := b.app.Sim.BasicToken(region, tenantID, userID)
	if err != nil {
		b.t.Fatal(err)
	}
	p := b.post("/connect", url.Values{"region": {region}, "basic_token": {tok.Reveal()}})
	if p.Status != 303 {
		b.t.Fatalf("connect: status %d: %s", p.Status, text(p))
	}
	return b.follow(p)
}

func (b *browser) keyRows(p *page) map[string]string {
	b.t.Helper()
	rows := map[string]string{}
	p.Doc.Find(`[data-testid="key-row"]`).Each(func(_ int, s *goquerySelection) {
		id, _ := s.Attr("data-key-id")
		rows[id] = strings.TrimSpace(s.Find(`[data-testid="key-state"]`).Text())
	})
	return rows
}

// createKey submits the keys page's create form and returns the creation page.
func (b *browser) createKey(label string) (keysPage, created *page) {
	b.t.Helper()
	keysPage = b.get("/keys")
	token, ok := keysPage.Doc.Find(`form[data-testid="create-form"] input[name="intent"]`).Attr("value")
	if !ok || token == "" {
		b.t.Fatalf("create form has no intent id: %s", text(keysPage))
	}
	p := b.post("/keys", url.Values{"intent": {token}, "label": {label}})
	if p.Status != 200 || p.Doc.Find(`[data-testid="key-secret"]`).Length() != 1 {
		b.t.Fatalf("create: status %d location %q: %s", p.Status, p.Location, text(p))
	}
	return keysPage, p
}

// intentOf is the create form's one-time id on a keys page.
func intentOf(keysPage *page) string {
	v, _ := keysPage.Doc.Find(`form[data-testid="create-form"] input[name="intent"]`).Attr("value")
	return v
}

func TestAdminJourney(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	if keys.Status != 200 {
		t.Fatalf("keys page: %d %s", keys.Status, text(keys))
	}
	if got := keys.Doc.Find(`[data-testid="identity"]`).Text(); !strings.Contains(got, admin.Email) || !strings.Contains(got, ten.Name) || !strings.Contains(got, "na1") {
		t.Errorf("identity = %q", got)
	}
	before := b.keyRows(keys)
	if len(before) == 0 {
		t.Fatal("seeded tenant lists no keys")
	}

	keysPage, created := b.createKey("reporting ETL")
	if created.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("creation page Cache-Control = %q", created.Header.Get("Cache-Control"))
	}
	keyID := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	secretText := strings.TrimSpace(created.Doc.Find(`[data-testid="key-secret"]`).Text())
	if keyID == "" || len(secretText) != 56 {
		t.Fatalf("creation page shows id %q and a %d-character secret", keyID, len(secretText))
	}
	// Shown once: a reload re-posts the used form, which says so and shows no secret.
	reload := b.post("/keys", url.Values{"intent": {intentOf(keysPage)}, "label": {"reporting ETL"}})
	if strings.Contains(reload.Body, secretText) || reload.Status != 409 || !strings.Contains(text(reload), "already submitted") {
		t.Fatalf("reload of the creation page: %d %s", reload.Status, text(reload))
	}
	// Download as .env: the page sends the secret back; only that key's secret is answered.
	env := b.post("/keys/"+keyID+"/env", url.Values{"access_key_secret": {secretText}})
	if env.Status != 200 || !strings.Contains(env.Body, "CXONE_ACCESS_KEY_SECRET="+secretText) || env.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf(".env download: %d %q", env.Status, env.Header)
	}
	if wrong := b.post("/keys/"+keyID+"/env", url.Values{"access_key_secret": {strings.Repeat("B", 52) + "===="}}); wrong.Status != 422 {
		t.Fatalf(".env download with another secret: %d", wrong.Status)
	}

	list := b.get("/keys")
	if state := b.keyRows(list)[keyID]; state != "active" {
		t.Fatalf("new key state %q, want active", state)
	}
	if label := list.Doc.Find(`[data-key-id="` + keyID + `"]`).Text(); !strings.Contains(label, "reporting ETL") || !strings.Contains(label, "…"+secretText[len(strings.TrimRight(secretText, "="))-4:len(strings.TrimRight(secretText, "="))]) {
		t.Errorf("row lacks label or last four: %q", label)
	}

	// Verify with the pasted secret.
	v := b.follow(b.post("/keys/"+keyID+"/verify", url.Values{"access_key_secret": {secretText}}))
	if !strings.Contains(v.Doc.Find(`[data-testid="flash"]`).Text(), "works") {
		t.Fatalf("verify flash: %q", v.Doc.Find(`[data-testid="flash"]`).Text())
	}
	// Delete of an active key is refused.
	del := b.post("/keys/"+keyID+"/delete", url.Values{"confirm": {confirmFor(keyID)}})
	if del.Status != 409 || !strings.Contains(text(del), "Deactivate the key first") {
		t.Fatalf("delete of an active key: %d %s", del.Status, text(del))
	}
	// Deactivate (confirmation page first), then delete.
	conf := b.get("/keys/" + keyID + "/deactivate")
	if conf.Doc.Find(`[data-testid="confirm-submit"]`).Length() != 1 {
		t.Fatal("no confirmation step for deactivate")
	}
	p := b.follow(b.post("/keys/"+keyID+"/deactivate", nil))
	if state := b.keyRows(p)[keyID]; state != "inactive" {
		t.Fatalf("after deactivate: %q", state)
	}
	p = b.follow(b.post("/keys/"+keyID+"/delete", url.Values{"confirm": {confirmFor(keyID)}}))
	if _, ok := b.keyRows(p)[keyID]; ok {
		t.Fatal("deleted key still listed")
	}
	b.activityHas("connect:success", "key.create:success", "key.verify:success", "key.deactivate:success", "key.delete:success", "key.delete:denied")
	if rep, err := verifyTrail(a); err != nil || !rep {
		t.Errorf("audit trail does not verify after the journey: %v", err)
	}
}

// otherSecret is sec with its first character changed: a wrong secret of
// the right shape, whatever sec is (a fixed replacement letter would equal
// sec's own first letter one time in 32).
func otherSecret(sec string) string {
	c := byte('A')
	if sec[0] == 'A' {
		c = 'B'
	}
	return string(c) + sec[1:]
}

// activityHas checks the admin Activity page lists each action:outcome.
func (b *browser) activityHas(want ...string) {
	b.t.Helper()
	act := b.get("/keys/activity")
	var actions []string
	act.Doc.Find(`[data-testid="activity-row"]`).Each(func(_ int, s *goquerySelection) {
		a, _ := s.Attr("data-action")
		o, _ := s.Attr("data-outcome")
		actions = append(actions, a+":"+o)
	})
	joined := strings.Join(actions, " ")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			b.t.Errorf("activity lacks %s: %s", w, joined)
		}
	}
}

func TestConnectWithAccessKeyReactivateAndDisconnect(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	_, created := b.createKey("for scripts")
	keyID := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	sec := strings.TrimSpace(created.Doc.Find(`[data-testid="key-secret"]`).Text())

	// A second browser connects with the access key instead of a basic token.
	other := a.browser()
	bad := other.post("/connect/access-key", url.Values{"region": {"na1"}, "access_key_id": {keyID}, "access_key_secret": {otherSecret(sec)}})
	if bad.Status != 401 || !strings.Contains(bad.Doc.Find(`[data-testid="access-key-error"]`).Text(), "rejected the access key") {
		t.Fatalf("wrong secret: %d %s", bad.Status, text(bad))
	}
	if strings.Contains(bad.Body, sec[1:]) {
		t.Fatal("the re-rendered form echoes the secret")
	}
	missing := other.post("/connect/access-key", url.Values{"region": {"na1"}, "access_key_id": {keyID}})
	if missing.Status != 422 {
		t.Fatalf("missing secret: %d", missing.Status)
	}
	ok := other.post("/connect/access-key", url.Values{"region": {"na1"}, "access_key_id": {keyID}, "access_key_secret": {sec}})
	if ok.Status != 303 {
		t.Fatalf("connect with the access key: %d %s", ok.Status, text(ok))
	}
	keys := other.follow(ok)
	if !strings.Contains(keys.Doc.Find(`[data-testid="identity"]`).Text(), ten.Name) {
		t.Fatalf("identity after an access-key connect: %q", keys.Doc.Find(`[data-testid="identity"]`).Text())
	}

	// Deactivate, then reactivate through its confirmation step.
	b.follow(b.post("/keys/"+keyID+"/deactivate", nil))
	if conf := b.get("/keys/" + keyID + "/activate"); conf.Doc.Find(`[data-testid="confirm-submit"]`).Length() != 1 {
		t.Fatal("no confirmation step for reactivate")
	}
	p := b.follow(b.post("/keys/"+keyID+"/activate", nil))
	if st := b.keyRows(p)[keyID]; st != "active" {
		t.Fatalf("after reactivate: %q", st)
	}

	// Disconnect forgets the connection and its tokens.
	var connID string
	if err := a.Pool.QueryRow(context.Background(), `SELECT id::text FROM connections c JOIN sessions s ON s.id_hash = c.session_id_hash ORDER BY c.created_at LIMIT 1`).Scan(&connID); err != nil {
		t.Fatal(err)
	}
	d := b.post("/connections/"+connID+"/disconnect", nil)
	if d.Status != 303 || d.Location != "/connect" {
		t.Fatalf("disconnect: %d %q", d.Status, d.Location)
	}
	if p := b.get("/keys"); p.Status != 303 || !strings.HasPrefix(p.Location, "/connect") {
		t.Fatalf("keys after disconnecting: %d %q", p.Status, p.Location)
	}
	if n := countAudit(t, a, `action = 'disconnect' AND outcome = 'success'`); n != 1 {
		t.Errorf("%d disconnect events, want 1", n)
	}
	if n := countAudit(t, a, `action = 'key.activate' AND outcome = 'success'`); n != 1 {
		t.Errorf("%d key.activate events, want 1", n)
	}
}
