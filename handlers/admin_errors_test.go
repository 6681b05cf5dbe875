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

func formError(p *page) string {
	return strings.TrimSpace(p.Doc.Find(`[data-testid="form-error"]`).Text())
}

func countAudit(t *testing.T, a *testApp, where string, args ...any) int {
	t.Helper()
	var n int
	if err := a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConnectRefusals(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	tok, _ := a.Sim.BasicToken("na1", ten.ID, admin.ID)
	for _, tc := range []struct {
		name       string
		form       url.Values
		wantStatus int
		wantMsg    string
	}{
		{"unknown region", url.Values{"region": {"xx9"}, "basic_token": {tok.Reveal()}}, 422, "not a CXone area"},
		{"empty token", url.Values{"region": {"na1"}, "basic_token": {"  "}}, 422, "Paste the basic token"},
		{"not a JWT", url.Values{"region": {"na1"}, "basic_token": {"hello world"}}, 422, "That is not a basic token"},
		{"a JWT CXone rejects", url.Values{"region": {"na1"}, "basic_token": {"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}}, 401, "refused the token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := a.browser().post("/connect", tc.form)
			if p.Status != tc.wantStatus || !strings.Contains(formError(p), tc.wantMsg) {
				t.Fatalf("status %d, form error %q; want %d and %q", p.Status, formError(p), tc.wantStatus, tc.wantMsg)
			}
			if sel, _ := p.Doc.Find(`select[name="region"] option[selected]`).Attr("value"); tc.form.Get("region") == "na1" && sel != "na1" {
				t.Errorf("the form lost the chosen region: %q", sel)
			}
			if strings.Contains(p.Body, tc.form.Get("basic_token")) && strings.TrimSpace(tc.form.Get("basic_token")) != "" {
				t.Error("the re-rendered form contains the token")
			}
		})
	}
	// A basic token works once: the second use is CXone's 401, shown clearly.
	if p := a.browser().post("/connect", url.Values{"region": {"na1"}, "basic_token": {tok.Reveal()}}); p.Status != 303 {
		t.Fatalf("first use: %d %s", p.Status, text(p))
	}
	p := a.browser().post("/connect", url.Values{"region": {"na1"}, "basic_token": {tok.Reveal()}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(formError(p), "may have been used already") {
		t.Fatalf("reused token: %d %q", p.Status, formError(p))
	}
	if n := countAudit(t, a, `action = 'connect' AND outcome = 'failure' AND upstream_status = 401`); n < 2 {
		t.Errorf("%d failed connects with upstream 401 audited, want >= 2", n)
	}
}

func TestAnotherTenantsKeyIsNotFoundEverywhere(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	other, _, _ := tenantUsers(t, a.Sim, "na1", 1)
	if other.ID == ten.ID || len(other.Keys) == 0 {
		t.Fatal("need a second na1 tenant with keys")
	}
	foreign := other.Keys[0].ID
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	mutating := func() int {
		return a.Sim.Calls(cxonesim.EndpointPatch) + a.Sim.Calls(cxonesim.EndpointDelete) + a.Sim.Calls(cxonesim.EndpointCreate) + a.Sim.Calls(cxonesim.EndpointToken)
	}
	before := mutating()
	for _, r := range []struct{ method, path string }{
		{"GET", "/keys/" + foreign + "/deactivate"}, {"GET", "/keys/" + foreign + "/activate"}, {"GET", "/keys/" + foreign + "/delete"},
		{"GET", "/keys/" + foreign + "/verify"}, {"GET", "/keys/" + foreign + "/rotate"},
		{"POST", "/keys/" + foreign + "/deactivate"}, {"POST", "/keys/" + foreign + "/activate"}, {"POST", "/keys/" + foreign + "/delete"},
		{"POST", "/keys/" + foreign + "/verify"}, {"POST", "/keys/" + foreign + "/rotate"},
	} {
		var p *page
		if r.method == "GET" {
			p = b.get(r.path)
		} else {
			p = b.post(r.path, url.Values{"access_key_secret": {"WHATEVERSECRET"}})
		}
		if p.Status != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404: %s", r.method, r.path, p.Status, text(p))
		}
	}
	if got := mutating(); got != before {
		t.Errorf("%d mutating upstream calls for another tenant's key", got-before)
	}
	if n := countAudit(t, a, `outcome = 'denied' AND target_key_id = $1 AND tenant_id = $2`, foreign, ten.ID); n < 10 {
		t.Errorf("%d denied events for the foreign key, want one per attempt (10)", n)
	}
	if n := countAudit(t, a, `outcome = 'intent' AND target_key_id = $1`, foreign); n != 0 {
		t.Errorf("%d intents recorded for the foreign key: an upstream mutation was attempted", n)
	}
}

func TestMyAccessKeyUserCannotActOnOthersKeys(t *testing.T) {
	a := newTestApp(t)
	ten, admin, user := tenantUsers(t, a.Sim, "na1", 0)
	var adminKey string
	for _, k := range ten.Keys {
		if k.UserID == admin.ID && k.Active {
			adminKey = k.ID
		}
	}
	if adminKey == "" {
		t.Fatal("the seeded admin has no active key")
	}
	b := a.browser()
	keys := b.connect("na1", ten.ID, user.ID)
	if keys.Doc.Find(`[data-testid="own-only"]`).Length() != 1 {
		t.Errorf("a My-Access-Key-only user is not told they see their own keys only")
	}
	for id := range b.keyRows(keys) {
		for _, k := range ten.Keys {
			if k.ID == id && k.UserID != user.ID {
				t.Errorf("user sees another user's key %s", id)
			}
		}
	}
	patches := a.Sim.Calls(cxonesim.EndpointPatch)
	p := b.post("/keys/"+adminKey+"/deactivate", nil)
	if p.Status != http.StatusForbidden || !strings.Contains(text(p), "Access Key") {
		t.Fatalf("deactivating the admin's key as a plain user: %d %s", p.Status, text(p))
	}
	if a.Sim.Calls(cxonesim.EndpointPatch) != patches {
		t.Error("an upstream PATCH was sent")
	}
	if n := countAudit(t, a, `outcome = 'denied' AND action = 'key.deactivate' AND target_key_id = $1`, adminKey); n != 1 {
		t.Errorf("%d denied events, want 1", n)
	}
	// Creating a key for another user is refused too.
	token, _ := keys.Doc.Find(`input[name="intent"]`).Attr("value")
	p = b.post("/keys", url.Values{"intent": {token}, "user_id": {admin.ID}})
	if p.Status != http.StatusForbidden {
		t.Fatalf("create for another user as a plain user: %d %s", p.Status, text(p))
	}
	if n := countAudit(t, a, `outcome = 'denied' AND action = 'key.create' AND details->>'owner_user_id' = $1`, admin.ID); n != 1 {
		t.Errorf("%d denied create events for another user, want 1", n)
	}
}

func TestDoubleSubmitCreatesOneKey(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	token, _ := keys.Doc.Find(`input[name="intent"]`).Attr("value")
	first := b.post("/keys", url.Values{"intent": {token}, "label": {"x"}})
	second := b.post("/keys", url.Values{"intent": {token}, "label": {"x"}})
	if first.Status != 200 {
		t.Fatalf("first submit: %d", first.Status)
	}
	if second.Status != http.StatusConflict || !strings.Contains(formError(second), "already submitted") {
		t.Fatalf("second submit: %d %q", second.Status, formError(second))
	}
	if n := a.Sim.Calls(cxonesim.EndpointCreate); n != 1 {
		t.Fatalf("%d create calls upstream, want 1", n)
	}
	// The page re-rendered after the refusal offers a fresh intent id.
	if fresh, _ := second.Doc.Find(`input[name="intent"]`).Attr("value"); fresh == "" || fresh == token {
		t.Errorf("re-rendered form intent %q", fresh)
	}
}

func TestCreateFormValidation(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	token, _ := keys.Doc.Find(`input[name="intent"]`).Attr("value")
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"missing intent", url.Values{"label": {"a"}}, "one-time id"},
		{"label too long", url.Values{"intent": {token}, "label": {strings.Repeat("x", 101)}}, "label is longer than 100 characters"},
		{"NUL", url.Values{"intent": {token}, "label": {"a\x00b"}}, "label contains a NUL byte"},
		{"control characters", url.Values{"intent": {token}, "label": {"a\x1bb"}}, "label contains a control character"},
		{"unknown user", url.Values{"intent": {token + "u"}, "user_id": {"no-such-user"}}, "not a user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/keys", tc.form)
			if p.Status != 422 || !strings.Contains(formError(p), tc.want) {
				t.Fatalf("status %d, error %q; want 422 and %q", p.Status, formError(p), tc.want)
			}
		})
	}
	if n := a.Sim.Calls(cxonesim.EndpointCreate); n != 0 {
		t.Fatalf("%d creates sent for invalid forms", n)
	}
	// Bad input on the other key routes: an empty secret, a malformed key id.
	var keyID string
	for id := range b.keyRows(keys) {
		keyID = id
	}
	if p := b.post("/keys/"+keyID+"/verify", url.Values{"access_key_secret": {""}}); p.Status != 422 || !strings.Contains(formError(p), "Paste the key's secret") {
		t.Errorf("verify without a secret: %d %q", p.Status, formError(p))
	}
	for _, bad := range []string{"/keys/" + strings.Repeat("A", 300) + "/deactivate", "/keys/%7F%01/delete"} {
		if p := b.post(bad, nil); p.Status != 404 || !strings.Contains(text(p), "no access key at this address") {
			t.Errorf("POST %s: %d %s", bad[:min(len(bad), 20)], p.Status, text(p))
		}
	}
}

// A create that cannot even list the owner's keys first sends no create,
// says why, and leaves a failure in the trail.
func TestCreateStopsWhenTheFirstListFails(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	token, _ := keys.Doc.Find(`input[name="intent"]`).Attr("value")
	a.Sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Status: 503, Count: 3})
	p := b.post("/keys", url.Values{"intent": {token}, "label": {"kept"}})
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(formError(p), "CXone is unavailable") {
		t.Fatalf("status %d, error %q", p.Status, formError(p))
	}
	if n := a.Sim.Calls(cxonesim.EndpointCreate); n != 0 {
		t.Fatalf("%d creates sent", n)
	}
	if n := countAudit(t, a, `action = 'key.create' AND outcome = 'failure' AND intent_id IS NULL`); n != 1 {
		t.Errorf("%d failure events for the stopped create, want 1", n)
	}
}

// A create whose answer is lost is attempted once, shown as pending, and
// reconciled on the next list load or by `keyport reconcile`.
func TestCreateTimeoutIsPendingThenReconciled(t *testing.T) {
	for _, via := range []string{"list load", "keyport reconcile"} {
		t.Run(via, func(t *testing.T) {
			a := newTestApp(t, func(s *testSetup) {
				s.Options.CXone = func(c *cxoneConfig) { fastCXone(c); c.CallTimeout = 500 * time.Millisecond }
			})
			ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
			b := a.browser()
			keys := b.connect("na1", ten.ID, admin.ID)
			token, _ := keys.Doc.Find(`input[name="intent"]`).Attr("value")
			// The simulator creates the key, then answers after the client
			// gave up; while it waits, the lists Keyport makes right after
			// (and the page it redirects to) fail too.
			a.Sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.Slow, Delay: 900 * time.Millisecond})
			go func() {
				deadline := time.Now().Add(5 * time.Second)
				for a.Sim.Calls(cxonesim.EndpointCreate) == 0 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				a.Sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Status: 503, Count: 6})
			}()
			res := b.post("/keys", url.Values{"intent": {token}, "label": {"lost answer"}})
			if res.Status != 303 {
				t.Fatalf("create: %d %s", res.Status, text(res))
			}
			if n := a.Sim.Calls(cxonesim.EndpointCreate); n != 1 {
				t.Fatalf("%d create attempts, want exactly 1", n)
			}
			state := func() string {
				var st string
				if err := a.Pool.QueryRow(context.Background(), `SELECT state FROM key_creates WHERE form_token = $1`, token).Scan(&st); err != nil {
					t.Fatal(err)
				}
				return st
			}
			if st := state(); st != "unknown" {
				t.Fatalf("after the lost answer: state %q, want unknown", st)
			}
			p := b.get("/keys") // its list fails: an honest error, and the pending marker
			if p.Status != 503 || p.Doc.Find(`[data-testid="list-error"]`).Length() != 1 || p.Doc.Find(`[data-testid="pending-row"]`).Length() != 1 {
				t.Errorf("keys page while CXone fails: %d %s", p.Status, text(p))
			}
			a.Sim.ClearFaults()
			if via == "list load" {
				b.get("/keys")
			} else {
				settled, remaining, err := a.App.Keys.ReconcileAll(context.Background())
				if err != nil || settled != 1 || remaining != 0 {
					t.Fatalf("ReconcileAll = %d, %d, %v", settled, remaining, err)
				}
			}
			if st := state(); st != "secret_lost" {
				t.Fatalf("after reconciling: state %q, want secret_lost", st)
			}
			p = b.get("/keys")
			if p.Doc.Find(`[data-testid="pending-row"]`).Length() != 0 {
				t.Error("still shown as pending after reconciliation")
			}
			if n := countAudit(t, a, `action = 'key.reconcile' AND intent_id IS NOT NULL`); n != 1 {
				t.Errorf("%d reconcile outcomes linked to the create's intent, want 1", n)
			}
			if n := countAudit(t, a, `action = 'key.create' AND outcome = 'unknown'`); n != 1 {
				t.Errorf("%d unknown create outcomes, want 1", n)
			}
		})
	}
}

// Fail-closed (issue 5): when the audit trail cannot record the intent, a
// mutating action answers 503 and CXone sees no mutating call.
func TestAuditFailureBlocksMutations(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	var active string
	for id, st := range b.keyRows(keys) {
		if st == "active" {
			active = id
		}
	}
	token, _ := keys.Doc.Find(`input[name="intent"]`).Attr("value")
	if _, err := a.Pool.Exec(context.Background(), `CREATE FUNCTION no_intents() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.outcome = 'intent' THEN RAISE EXCEPTION 'audit storage failing'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER no_intents BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION no_intents();`); err != nil {
		t.Fatal(err)
	}
	before := a.Sim.Calls(cxonesim.EndpointPatch) + a.Sim.Calls(cxonesim.EndpointCreate) + a.Sim.Calls(cxonesim.EndpointDelete)
	for _, p := range []*page{
		b.post("/keys/"+active+"/deactivate", nil),
		b.post("/keys", url.Values{"intent": {token}}),
	} {
		if p.Status != http.StatusServiceUnavailable || !strings.Contains(text(p), "audit trail") {
			t.Errorf("status %d, want 503 naming the audit trail: %s", p.Status, text(p))
		}
	}
	if after := a.Sim.Calls(cxonesim.EndpointPatch) + a.Sim.Calls(cxonesim.EndpointCreate) + a.Sim.Calls(cxonesim.EndpointDelete); after != before {
		t.Fatalf("%d mutating calls reached CXone", after-before)
	}
}

// Upstream failures get an honest page with the right status (never 500),
// CXone's own message when it sent one, and a failure outcome in the trail.
func TestUpstreamFailuresAreHonest(t *testing.T) {
	a := newTestApp(t, func(s *testSetup) {
		s.Options.CXone = func(c *cxoneConfig) { fastCXone(c); c.CallTimeout = 300 * time.Millisecond }
	})
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	var active string
	for id, st := range b.keyRows(keys) {
		if st == "active" {
			active = id
		}
	}
	for _, tc := range []struct {
		name       string
		fault      cxonesim.Fault
		wantStatus int
		wantText   string
		outcome    string
	}{
		{"CXone refuses with its own message", cxonesim.Fault{Endpoint: cxonesim.EndpointPatch, Mode: cxonesim.ErrorShape, Status: 409,
			Shape: cxonesim.ShapeDetails, Message: "Key is locked by a pending operation"}, 409, "Key is locked by a pending operation", "failure"},
		{"gateway page", cxonesim.Fault{Endpoint: cxonesim.EndpointPatch, Mode: cxonesim.HTML5xx, Status: 502, Count: 3}, 503, "CXone is unavailable", "failure"},
		{"no answer in time", cxonesim.Fault{Endpoint: cxonesim.EndpointPatch, Mode: cxonesim.Slow, Delay: time.Second, Count: 3}, 504, "did not answer in time", "unknown"},
		{"rate limited", cxonesim.Fault{Endpoint: cxonesim.EndpointPatch, Mode: cxonesim.RateLimit, Count: 3}, 429, "rate-limiting", "failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.Sim.ClearFaults()
			a.Sim.Inject(tc.fault)
			p := b.post("/keys/"+active+"/deactivate", nil)
			if p.Status != tc.wantStatus || !strings.Contains(text(p), tc.wantText) {
				t.Fatalf("status %d, want %d with %q: %s", p.Status, tc.wantStatus, tc.wantText, text(p))
			}
			var outcome string
			if err := a.Pool.QueryRow(context.Background(), `SELECT outcome FROM audit_events WHERE action = 'key.deactivate' AND intent_id IS NOT NULL ORDER BY id DESC LIMIT 1`).Scan(&outcome); err != nil {
				t.Fatal(err)
			}
			if outcome != tc.outcome {
				t.Errorf("audited outcome %q, want %q", outcome, tc.outcome)
			}
		})
	}
	a.Sim.ClearFaults()
	// A refused create keeps the form (label) and shows CXone's message.
	token, _ := b.get("/keys").Doc.Find(`input[name="intent"]`).Attr("value")
	a.Sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ErrorShape, Status: 400, Shape: cxonesim.ShapeSpring, Message: "Maximum number of access keys reached"})
	p := b.post("/keys", url.Values{"intent": {token}, "label": {"keep me"}})
	if p.Status != 422 || !strings.Contains(formError(p), "Maximum number of access keys reached") {
		t.Fatalf("refused create: %d %q", p.Status, formError(p))
	}
	if v, _ := p.Doc.Find(`input[name="label"]`).Attr("value"); v != "keep me" {
		t.Errorf("the form lost its label: %q", v)
	}
}
