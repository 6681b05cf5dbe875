package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone/cxonesim"
)

// newKey connects as the first na1 tenant's admin and creates a key.
func newKey(t *testing.T, label string) (a *testApp, b *browser, keysPage, created *page, id, sec string) {
	t.Helper()
	a = newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b = a.browser()
	b.connect("na1", ten.ID, admin.ID)
	keysPage, created = b.createKey(label)
	id = strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	sec = strings.TrimSpace(created.Doc.Find(`[data-testid="key-secret"]`).Text())
	return a, b, keysPage, created, id, sec
}

// lastVerified is what Keyport's notes hold about a key's last verification.
func lastVerified(t *testing.T, a *testApp, keyID string) (at *time.Time, result string) {
	t.Helper()
	if err := a.Pool.QueryRow(context.Background(), `SELECT last_verified_at, coalesce(last_verify_result, '') FROM key_metadata WHERE access_key_id = $1`, keyID).Scan(&at, &result); err != nil {
		t.Fatal(err)
	}
	return at, result
}

func TestVerifyWithAMistypedSecretStaysOnTheFormAndAsksNobody(t *testing.T) {
	a, b, _, _, id, sec := newKey(t, "typo")
	tokens := a.Sim.Calls(cxonesim.EndpointToken)
	wrong := otherSecret(sec)

	p := b.post("/keys/"+id+"/verify", url.Values{"access_key_secret": {wrong}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("verify with a mistyped secret: %d %q %s; want 422 on the form", p.Status, p.Location, text(p))
	}
	trimmed := strings.TrimRight(sec, "=")
	if msg := formError(p); !strings.Contains(msg, "not this key's secret") || !strings.Contains(msg, "…"+trimmed[len(trimmed)-4:]) {
		t.Errorf("form error %q does not say the secret is not this key's and how it ends", msg)
	}
	in := p.Doc.Find(`[data-testid="secret-input"]`)
	if inv, _ := in.Attr("aria-invalid"); inv != "true" || in.Length() != 1 {
		t.Errorf("the secret field is not marked invalid beside its message")
	}
	if desc, _ := in.Attr("aria-describedby"); desc == "" || p.Doc.Find("#"+desc).Text() != formError(p) {
		t.Errorf("the secret field does not point at its message (aria-describedby %q)", desc)
	}
	if strings.Contains(p.Body, wrong) || strings.Contains(p.Body, sec) {
		t.Error("the re-rendered form echoes a secret")
	}
	if got := a.Sim.Calls(cxonesim.EndpointToken); got != tokens {
		t.Errorf("%d token requests reached CXone for a secret Keyport knew was wrong", got-tokens)
	}
	if at, res := lastVerified(t, a, id); at != nil || res != "" {
		t.Errorf("last verified changed to %v %q by a local refusal", at, res)
	}
	if n := countAudit(t, a, `action = 'key.verify' AND outcome = 'denied' AND target_key_id = $1 AND details->>'result' = 'wrong secret'`, id); n != 1 {
		t.Errorf("%d denied verify rows, want 1", n)
	}

	// The right secret is CXone's to answer, and then "last verified" moves.
	ok := b.post("/keys/"+id+"/verify", url.Values{"access_key_secret": {sec}})
	if ok.Status != http.StatusSeeOther || !strings.Contains(b.follow(ok).Doc.Find(`[data-testid="flash"]`).Text(), "works") {
		t.Fatalf("verify with the right secret: %d %s", ok.Status, text(ok))
	}
	if at, res := lastVerified(t, a, id); at == nil || res != "works" {
		t.Errorf("after CXone's answer: last verified %v %q", at, res)
	}
}

func TestTheCreationPageKeepsTheSecretUntilItIsSaved(t *testing.T) {
	a, b, keysPage, created, id, sec := newKey(t, "kept")

	saved := created.Doc.Find(`form[data-testid="saved-form"]`)
	if m, _ := saved.Attr("method"); m != "get" || saved.AttrOr("action", "") != "/keys" {
		t.Errorf("the way out is %s %s, want a GET form to /keys (it carries no secret)", m, saved.AttrOr("action", ""))
	}
	if _, req := saved.Find(`input[type="checkbox"][data-testid="saved-secret"]`).Attr("required"); !req {
		t.Error(`the "I have saved the secret" box is not required`)
	}
	if saved.Find(`[data-testid="back-to-keys"]`).Length() != 1 {
		t.Error("back-to-keys is not the saved form's button")
	}
	if created.Doc.Find(`a[data-testid="back-to-keys"]`).Length() != 0 {
		t.Error("a plain link leaves the page without the saved step")
	}
	if created.Doc.Find(`[data-testid="copy-status"][aria-live]`).Length() != 1 {
		t.Error("no live region for the copy hint")
	}
	verify := created.Doc.Find(`[data-testid="verify-new"]`).Closest("form")
	if verify.Find(`input[name="created"]`).Length() != 1 || verify.AttrOr("action", "") != "/keys/"+id+"/verify" {
		t.Fatalf("verify-new is not an inline form answered on this page")
	}

	// Verify it now: the answer is this page, secret still shown.
	tokens := a.Sim.Calls(cxonesim.EndpointToken)
	form := url.Values{"access_key_secret": {sec}, "created": {"1"}, "label": {"kept"}}
	p := b.post("/keys/"+id+"/verify", form)
	if p.Status != http.StatusOK {
		t.Fatalf("verify it now: %d %q %s", p.Status, p.Location, text(p))
	}
	if got := strings.TrimSpace(p.Doc.Find(`[data-testid="key-secret"]`).Text()); got != sec {
		t.Errorf("after verifying, the page shows a %d-character secret, want the key's", len(got))
	}
	if r := p.Doc.Find(`[data-testid="verify-result"]`); r.AttrOr("data-works", "") != "true" || !strings.Contains(r.Text(), "works") {
		t.Errorf("verify result %q", r.Text())
	}
	if p.Doc.Find(`[data-testid="saved-form"] [data-testid="back-to-keys"]`).Length() != 1 || p.Doc.Find(`[data-testid="download-env"]`).Length() != 1 {
		t.Error("after verifying, the page lost its saved step or its download")
	}
	if a.Sim.Calls(cxonesim.EndpointToken) != tokens+1 {
		t.Error("verify it now did not ask CXone")
	}
	// Only this key's own secret is ever shown back.
	wrong := otherSecret(sec)
	if w := b.post("/keys/"+id+"/verify", url.Values{"access_key_secret": {wrong}, "created": {"1"}}); w.Status != http.StatusUnprocessableEntity || strings.Contains(w.Body, wrong) {
		t.Errorf("creation-page verify with another secret: %d, echoed %v", w.Status, strings.Contains(w.Body, wrong))
	}

	// A reload says the same thing every time, without the secret.
	for i := range 2 {
		r := b.post("/keys", url.Values{"intent": {intentOf(keysPage)}, "label": {"kept"}})
		if r.Status != http.StatusConflict || strings.Contains(r.Body, sec) || !strings.Contains(formError(r), "shown once and cannot be shown again") || !strings.Contains(formError(r), id) {
			t.Errorf("reload %d: %d %q", i+1, r.Status, formError(r))
		}
	}
	if done := b.get("/keys?saved=1"); done.Status != http.StatusOK || strings.Contains(done.Body, sec) {
		t.Errorf("Done: %d", done.Status)
	}
}

func TestConfirmationsShowTheKeyAndDeleteWantsTheIDsEnd(t *testing.T) {
	a, b, _, _, id, _ := newKey(t, "to confirm")
	conf := b.get("/keys/" + id + "/deactivate")
	for sel, want := range map[string]string{
		`[data-testid="confirm-label"]`: "to confirm", `[data-testid="confirm-owner"]`: "you (",
		`[data-testid="confirm-state"]`: "active", `[data-testid="confirm-last-used"]`: "never",
		`[data-testid="confirm-created"]`: time.Now().UTC().Format("2006-01-02"), `[data-testid="confirm-key-id"]`: id,
	} {
		if got := conf.Doc.Find(sel).Text(); !strings.Contains(got, want) {
			t.Errorf("deactivate confirmation %s = %q, want %q in it", sel, got, want)
		}
	}
	submit := conf.Doc.Find(`[data-testid="confirm-submit"]`)
	if _, af := submit.Attr("autofocus"); !submit.HasClass("kp-destructive") || !af {
		t.Errorf("deactivate's button: destructive %v, autofocus %v", submit.HasClass("kp-destructive"), af)
	}
	if re := b.get("/keys/" + id + "/activate").Doc.Find(`[data-testid="confirm-submit"]`); re.HasClass("kp-destructive") {
		t.Error("reactivate looks destructive")
	}
	b.follow(b.post("/keys/"+id+"/deactivate", nil))

	del := b.get("/keys/" + id + "/delete")
	in := del.Doc.Find(`input[name="confirm"][data-testid="confirm-input"]`)
	if _, af := in.Attr("autofocus"); !af || !strings.Contains(del.Doc.Find(`[data-testid="confirm"]`).Text(), confirmFor(id)) {
		t.Fatalf("delete confirmation: typed field autofocus %v, asks for %q: %s", af, confirmFor(id), text(del))
	}
	for _, typed := range []string{"", "xxxx", id[:4], "===="} {
		p := b.post("/keys/"+id+"/delete", url.Values{"confirm": {typed}})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(formError(p), confirmFor(id)) || p.Doc.Find(`[data-testid="confirm-label"]`).Text() != "to confirm" {
			t.Errorf("delete confirmed by %q: %d %q", typed, p.Status, formError(p))
		}
	}
	if n := a.Sim.Calls(cxonesim.EndpointDelete); n != 0 {
		t.Fatalf("%d deletes reached CXone without the confirmation", n)
	}
	if n := countAudit(t, a, `action = 'key.delete'`); n != 0 {
		t.Errorf("%d key.delete rows for unconfirmed deletes", n)
	}
	p := b.follow(b.post("/keys/"+id+"/delete", url.Values{"confirm": {confirmFor(id)}}))
	if _, ok := b.keyRows(p)[id]; ok {
		t.Fatal("the confirmed delete left the key")
	}
}

// confirmFor is what a person types to delete id: the last four characters
// before the base32 padding, as the list's short id shows them.
func confirmFor(id string) string {
	body := strings.TrimRight(id, "=")
	return body[len(body)-4:]
}
