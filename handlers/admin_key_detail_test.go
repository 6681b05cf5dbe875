package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// A key's own page shows the full id and every field; another tenant's key
// is not found there, like everywhere else.
func TestKeyDetailPage(t *testing.T) {
	a := newTestApp(t)
	ten, admin, user := tenantUsers(t, a.Sim, "na1", 0)
	other, _, _ := tenantUsers(t, a.Sim, "na1", 1)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	_, created := b.createKey("nightly export")
	id := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	p := b.get("/keys/" + id)
	if p.Status != http.StatusOK {
		t.Fatalf("detail: %d %s", p.Status, text(p))
	}
	d := p.Doc.Find(`[data-testid="key-detail"]`)
	for testID, want := range map[string]string{"key-full-id": id, "key-state": "active", "key-owner": "you (" + admin.Email + ")",
		"key-detail-title": "nightly export", "key-last-used": "never", "key-rotation": "none in progress"} {
		got := field(p.Doc.Selection, testID)
		if got != want {
			t.Errorf("%s = %q, want %q", testID, got, want)
		}
	}
	if got := field(d, "key-created"); !strings.Contains(got, "by "+admin.Email) {
		t.Errorf("created = %q", got)
	}
	if got := field(d, "key-secret-last4"); !strings.Contains(got, "…") {
		t.Errorf("secret = %q, want its last four", got)
	}
	if d.Find(`button[type="submit"][data-testid="deactivate"]`).Length() != 1 || d.Find(`[data-testid="verify"]`).Length() != 1 {
		t.Error("the detail page lacks the key's actions")
	}
	if d.Find(`[data-testid="key-id"]`).Length() != 0 {
		t.Error(`the detail page uses data-testid="key-id"`)
	}
	var userKey string
	for _, k := range ten.Keys {
		if k.UserID == user.ID {
			userKey = k.ID
		}
	}
	if got := field(b.get("/keys/"+userKey).Doc.Selection, "key-owner"); !strings.Contains(got, "name unknown to Keyport") {
		t.Errorf("owner of a user who never connected = %q", got)
	}

	foreign := other.Keys[0].ID
	denied := countAudit(t, a, `outcome = 'denied' AND target_key_id = $1`, foreign)
	if p := b.get("/keys/" + foreign); p.Status != http.StatusNotFound || strings.Contains(p.Body, `data-testid="key-detail"`) {
		t.Errorf("another tenant's key: %d", p.Status)
	}
	if n := countAudit(t, a, `outcome = 'denied' AND target_key_id = $1`, foreign) - denied; n != 1 {
		t.Errorf("%d denied events for another tenant's key, want 1", n)
	}
	if p := b.get("/keys/NOSUCHKEY2345"); p.Status != http.StatusNotFound {
		t.Errorf("unknown key: %d", p.Status)
	}
	if p := b.get("/keys/lookup"); p.Status != http.StatusOK || p.Doc.Find(`[data-testid="key-detail"]`).Length() != 0 {
		t.Errorf("/keys/lookup is taken by the detail route: %d", p.Status)
	}
}
