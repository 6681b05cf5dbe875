package handlers_test

import (
	"net/url"
	"strings"
	"testing"
)

func TestRotationWizardCanBeLeftAndResumed(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	_, created := b.createKey("to rotate")
	oldID := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())

	if p := b.get("/keys/" + oldID + "/rotate"); p.Doc.Find(`[data-testid="confirm-submit"]`).Length() != 1 {
		t.Fatalf("no confirmation step before rotating: %s", text(p))
	}
	newPage := b.post("/keys/"+oldID+"/rotate", nil)
	if newPage.Status != 200 {
		t.Fatalf("start rotation: %d %q %s", newPage.Status, newPage.Location, text(newPage))
	}
	newID := strings.TrimSpace(newPage.Doc.Find(`[data-testid="key-id"]`).Text())
	newSecret := strings.TrimSpace(newPage.Doc.Find(`[data-testid="key-secret"]`).Text())
	wizard, ok := newPage.Doc.Find(`[data-testid="saved-form"]`).Attr("action")
	if newID == "" || newID == oldID || newSecret == "" || !ok {
		t.Fatalf("replacement page: id %q, secret %d chars, wizard link %v", newID, len(newSecret), ok)
	}

	// Leave: the keys page offers to resume; starting again resumes.
	keys := b.get("/keys")
	if href, _ := keys.Doc.Find(`[data-key-id="` + oldID + `"] [data-testid="resume-rotation"]`).Closest("form").Attr("action"); href != wizard {
		t.Fatalf("keys page resume link %q, want %q", href, wizard)
	}
	if again := b.post("/keys/"+oldID+"/rotate", nil); again.Location != wizard {
		t.Fatalf("starting a second rotation went to %q, want the open one %q", again.Location, wizard)
	}

	step := func(path string, form url.Values, wantStep string) {
		t.Helper()
		p := b.post(wizard+path, form)
		if p.Status != 303 {
			t.Fatalf("%s: %d %s", path, p.Status, text(p))
		}
		w := b.follow(p)
		if got, _ := w.Doc.Find(`[data-testid="rotation-steps"]`).Attr("data-step"); got != wantStep {
			t.Fatalf("after %s: step %q, want %q", path, got, wantStep)
		}
	}
	// Steps cannot be skipped.
	if p := b.post(wizard+"/deactivate-old", nil); p.Status != 409 {
		t.Fatalf("skipping to deactivate: %d", p.Status)
	}
	step("/deployed", nil, "deployed")
	if p := b.post(wizard+"/verify", url.Values{"access_key_secret": {otherSecret(newSecret)}}); p.Status != 422 || !strings.Contains(formError(p), "not this key's secret") {
		t.Fatalf("verify with a wrong secret: %d %q", p.Status, formError(p))
	}
	step("/verify", url.Values{"access_key_secret": {newSecret}}, "verified")
	step("/deactivate-old", nil, "old_deactivated")
	step("/delete-old", url.Values{"confirm": {confirmFor(oldID)}}, "done")

	rows := b.keyRows(b.get("/keys"))
	if _, ok := rows[oldID]; ok {
		t.Error("the old key is still listed")
	}
	if rows[newID] != "active" {
		t.Errorf("the new key is %q", rows[newID])
	}
	for _, want := range []string{"created", "deployed", "verified", "old_deactivated", "done"} {
		if n := countAudit(t, a, `action = 'key.rotate' AND target_key_id = $1 AND details->>'step' = $2`, oldID, want); n != 1 {
			t.Errorf("%d key.rotate events for step %s, want 1", n, want)
		}
	}
}

func TestLeakedSecretLookup(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	_, created := b.createKey("leaky")
	keyID := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	sec := strings.TrimSpace(created.Doc.Find(`[data-testid="key-secret"]`).Text())

	none := b.post("/keys/lookup", url.Values{"access_key_secret": {"AAAA" + sec[4:]}})
	if none.Doc.Find(`[data-testid="lookup-none"]`).Length() != 1 {
		t.Fatalf("a different secret matched: %s", text(none))
	}
	found := b.post("/keys/lookup", url.Values{"access_key_secret": {"  " + sec + "\n"}})
	if found.Header.Get("Cache-Control") != "no-store" || !strings.Contains(found.Doc.Find(`[data-testid="lookup-result"]`).Text(), keyID) {
		t.Fatalf("lookup result: %s", text(found))
	}
	if strings.Contains(found.Body, sec) {
		t.Fatal("the lookup page echoes the pasted secret")
	}
	action, _ := found.Doc.Find(`[data-testid="lookup-deactivate"]`).Parent().Attr("action")
	p := b.follow(b.post(action, nil))
	if b.keyRows(p)[keyID] != "inactive" {
		t.Fatal("one-click deactivate from the lookup did not deactivate the key")
	}
	if empty := b.post("/keys/lookup", url.Values{"access_key_secret": {""}}); empty.Status != 422 {
		t.Fatalf("empty lookup: %d", empty.Status)
	}
	if n := countAudit(t, a, `action = 'key.lookup' AND outcome = 'success'`); n != 2 {
		t.Errorf("%d key.lookup events, want 2", n)
	}
}
