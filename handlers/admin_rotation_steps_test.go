package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone/cxonesim"
)

// The wizard names old and new keys, the new label marks the replacement,
// deleting the old key is typed out, and a finished rotation says so.
func TestRotationNamesBothKeysAndConfirmsTheDelete(t *testing.T) {
	a, b, _, _, oldID, _ := newKey(t, "payments")
	today := time.Now().UTC().Format("2006-01-02")
	start := b.post("/keys/"+oldID+"/rotate", nil)
	if start.Status != http.StatusOK {
		t.Fatalf("start rotation: %d %s", start.Status, text(start))
	}
	newID := strings.TrimSpace(start.Doc.Find(`[data-testid="key-id"]`).Text())
	if got := start.Doc.Find(`[data-testid="created-label"]`).Text(); got != "payments (rotated "+today+")" {
		t.Errorf("the replacement is labelled %q", got)
	}
	wizard := start.Doc.Find(`[data-testid="saved-form"]`).AttrOr("action", "")
	if !strings.HasPrefix(wizard, "/rotations/") || start.Doc.Find(`[data-testid="saved-form"] [data-testid="rotation-next"]`).Length() != 1 {
		t.Fatalf("the replacement's way out is %q, want the wizard behind the saved step", wizard)
	}
	// A reload of that page goes to the wizard and says the secret is gone.
	again := b.post("/keys/"+oldID+"/rotate", nil)
	if again.Location != wizard {
		t.Fatalf("a reload of the replacement page went to %q", again.Location)
	}
	if f := b.follow(again).Doc.Find(`[data-testid="flash"]`).Text(); !strings.Contains(f, "shown once and cannot be shown again") || !strings.Contains(f, newID) {
		t.Errorf("reload flash %q", f)
	}

	w := b.get(wizard)
	if old := w.Doc.Find(`[data-testid="rotation-old"]`).Text(); !strings.Contains(old, "payments") || !strings.Contains(old, oldID) {
		t.Errorf("old key shown as %q", old)
	}
	if nw := w.Doc.Find(`[data-testid="rotation-new"]`).Text(); !strings.Contains(nw, "payments (rotated "+today+")") || !strings.Contains(nw, newID) {
		t.Errorf("new key shown as %q", nw)
	}
	if strings.Contains(text(w), newID+" .") {
		t.Error(`the wizard still prints "Y ."`)
	}
	for _, s := range []string{"/deployed", "/verify", "/deactivate-old"} {
		if p := b.post(wizard+s, url.Values{"access_key_secret": {strings.TrimSpace(start.Doc.Find(`[data-testid="key-secret"]`).Text())}}); p.Status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", s, p.Status, text(p))
		}
	}
	del := b.get(wizard)
	if del.Doc.Find(`form[action$="/delete-old"] [data-testid="confirm-input"]`).Length() != 1 || !del.Doc.Find(`[data-testid="rotation-delete"]`).HasClass("kp-destructive") {
		t.Fatalf("the delete step asks for no typed confirmation or does not look destructive: %s", text(del))
	}
	p := b.post(wizard+"/delete-old", url.Values{"confirm": {"===="}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(formError(p), confirmFor(oldID)) {
		t.Fatalf("delete-old with a wrong confirmation: %d %q", p.Status, formError(p))
	}
	if p.Doc.Find(`[data-testid="rotation-steps"]`).AttrOr("data-step", "") != "old_deactivated" || p.Doc.Find(`[data-testid="confirm-input"][aria-invalid="true"]`).Length() != 1 {
		t.Errorf("after a wrong confirmation the wizard is not back at the delete step with the field marked")
	}
	if n := a.Sim.Calls(cxonesim.EndpointDelete); n != 0 {
		t.Fatalf("%d deletes reached CXone without the confirmation", n)
	}
	done := b.follow(b.post(wizard+"/delete-old", url.Values{"confirm": {confirmFor(oldID)}}))
	if h := done.Doc.Find("h1").Text(); h != "Rotation complete" || strings.Contains(text(done), "resume") || done.Doc.Find(`[data-testid="rotation-complete"]`).Length() != 1 {
		t.Errorf("the finished wizard: %q, %s", h, text(done))
	}
}
