package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyport/keyport/cxone/cxonesim"
)

// A refused create shows the keys page again from the list Keyport took
// while creating: CXone is asked for the keys once per submit, not twice.
func TestARefusedCreateListsTheKeysOnce(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	token, _ := keys.Doc.Find(`input[name="intent"]`).Attr("value")
	for _, tc := range []struct {
		name       string
		fault      *cxonesim.Fault
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"CXone refuses the create", &cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ErrorShape, Status: 400,
			Shape: cxonesim.ShapeSpring, Message: "Maximum number of access keys reached"},
			url.Values{"intent": {token}, "label": {"keep me"}}, http.StatusUnprocessableEntity, "Maximum number of access keys reached"},
		{"the user is not one of the tenant's", nil,
			url.Values{"intent": {token + "u"}, "label": {"keep me"}, "user_id": {"no-such-user"}}, http.StatusUnprocessableEntity, "not a user"},
		{"the form was already submitted", nil,
			url.Values{"intent": {token}, "label": {"keep me"}}, http.StatusConflict, "already submitted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.Sim.ClearFaults()
			if tc.fault != nil {
				a.Sim.Inject(*tc.fault)
			}
			lists := a.Sim.Calls(cxonesim.EndpointList)
			listed := countAudit(t, a, `action = 'key.list' AND outcome = 'success'`)
			p := b.post("/keys", tc.form)
			if p.Status != tc.wantStatus || !strings.Contains(formError(p), tc.wantError) {
				t.Fatalf("status %d, error %q; want %d and %q", p.Status, formError(p), tc.wantStatus, tc.wantError)
			}
			if got := a.Sim.Calls(cxonesim.EndpointList) - lists; got != 1 {
				t.Errorf("%d list calls for one refused submit, want 1", got)
			}
			if got := len(b.keyRows(p)); got != len(ten.Keys) {
				t.Errorf("the page shows %d keys, want the tenant's %d", got, len(ten.Keys))
			}
			if v, _ := p.Doc.Find(`input[name="label"]`).Attr("value"); v != "keep me" {
				t.Errorf("the form lost its label: %q", v)
			}
			if fresh, _ := p.Doc.Find(`input[name="intent"]`).Attr("value"); fresh == "" || fresh == token {
				t.Errorf("re-rendered form intent %q, want a fresh one", fresh)
			}
			if got := countAudit(t, a, `action = 'key.list' AND outcome = 'success'`) - listed; got != 1 {
				t.Errorf("%d key.list events for the page, want 1", got)
			}
		})
	}
}
