package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/web"
)

// row is the keys page's row of key id.
func row(p *page, id string) *goquerySelection {
	return p.Doc.Find(`[data-testid="key-row"][data-key-id="` + id + `"]`)
}

func field(s *goquerySelection, testID string) string {
	return strings.Join(strings.Fields(s.Find(`[data-testid="`+testID+`"]`).First().Text()), " ")
}

// A row leads with the label (or says there is none), shortens the id,
// keeps the full id for Copy and links to the key's own page.
func TestKeyRowsLeadWithTheLabelAndShortenTheID(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	_, created := b.createKey("reporting ETL, prod")
	id := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	keys := b.get("/keys")
	r := row(keys, id)
	if r.Length() != 1 {
		t.Fatalf("no row for the new key %s: %s", id, text(keys))
	}
	if got := field(r, "key-label"); got != "reporting ETL, prod" {
		t.Errorf("label %q", got)
	}
	if r.Find("td").First().Find(`[data-testid="key-label"]`).Length() != 1 {
		t.Error("the label is not in the row's first cell")
	}
	short := field(r, "key-short-id")
	if short != web.ShortID(id) || len([]rune(short)) != 13 || !strings.HasPrefix(id, short[:8]) {
		t.Errorf("short id %q for %q", short, id)
	}
	if strings.Contains(r.Find(`.kp-id`).Text(), id) {
		t.Error("the visible id is the full 56-character id")
	}
	full := r.Find(`[data-testid="key-full-id"]`)
	fullID, _ := full.Attr("id")
	target, _ := r.Find(`button[data-copy-target]`).Attr("data-copy-target")
	if strings.TrimSpace(full.Text()) != id || target == "" || target != fullID {
		t.Errorf("copy target %q → element %q holding %q, want the full id", target, fullID, full.Text())
	}
	if href, _ := r.Find(`a[data-testid="key-link"]`).Attr("href"); href != "/keys/"+id {
		t.Errorf("key link %q", href)
	}
	for _, k := range ten.Keys { // seeded keys were made outside Keyport: no label
		if got := field(row(keys, k.ID), "key-label"); k.UserID == admin.ID && got != "no label" {
			t.Errorf("unlabelled key %s shows %q", k.ID, got)
		}
	}
	if keys.Doc.Find(`[data-testid="key-row"] [data-testid="key-id"]`).Length() != 0 {
		t.Error(`the list uses data-testid="key-id", which belongs to the creation page`)
	}
}

// Owners, the "For user" picker and the filter show names Keyport learnt
// from users who connected, even after they left, and say so where it
// knows none.
func TestOwnersAreNamedWhereKeyportKnowsTheName(t *testing.T) {
	a := newTestApp(t)
	ten, admin, user := tenantUsers(t, a.Sim, "na1", 0)
	var userKey string
	for _, k := range ten.Keys {
		if k.UserID == user.ID {
			userKey = k.ID
		}
	}
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	owner := field(row(keys, userKey), "key-owner")
	if strings.Contains(owner, user.ID) || !strings.Contains(owner, web.ShortID(user.ID)) || !strings.Contains(owner, "name unknown to Keyport") {
		t.Errorf("owner Keyport cannot name = %q, want the short id and a note", owner)
	}
	for _, k := range ten.Keys {
		if k.UserID == admin.ID {
			if got := field(row(keys, k.ID), "key-owner"); got != "you ("+admin.Email+")" {
				t.Errorf("own key's owner = %q", got)
			}
		}
	}

	// Uma connects once and signs out: her connection is gone, the trail
	// remembers her name.
	ub := a.browser()
	ub.connect("na1", ten.ID, user.ID)
	if p := ub.post("/logout", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.Status)
	}
	keys = b.get("/keys")
	if got := field(row(keys, userKey), "key-owner"); got != user.Email {
		t.Errorf("owner after %s connected = %q, want the name", user.Email, got)
	}
	for _, sel := range []string{"user-select", "user-filter"} {
		opt := keys.Doc.Find(`select[data-testid="` + sel + `"] option[value="` + user.ID + `"]`)
		if want := user.Email + " (" + web.ShortID(user.ID) + ")"; strings.TrimSpace(opt.Text()) != want {
			t.Errorf("%s option for %s = %q, want %q", sel, user.ID, opt.Text(), want)
		}
		keys.Doc.Find(`select[data-testid="` + sel + `"] option`).Each(func(_ int, o *goquerySelection) {
			if v, _ := o.Attr("value"); v != "" && strings.Contains(o.Text(), v) {
				t.Errorf("%s option shows the raw id: %q", sel, o.Text())
			}
		})
	}
	filtered := b.get("/keys?user=" + user.ID)
	if sel, _ := filtered.Doc.Find(`select[data-testid="user-filter"] option[selected]`).Attr("value"); sel != user.ID {
		t.Errorf("filter keeps %q selected, want %q", sel, user.ID)
	}
}

// Pending and ambiguous creates name their owner and shorten the keys they
// may be, linking each to its page.
func TestAmbiguousCreateNamesItsOwnerAndShortensCandidates(t *testing.T) {
	a := newTestApp(t)
	ten, admin, user := tenantUsers(t, a.Sim, "na1", 0)
	var ids []string
	for _, k := range ten.Keys {
		ids = append(ids, k.ID)
	}
	now := time.Now()
	if _, err := a.Pool.Exec(context.Background(), `INSERT INTO key_creates (form_token, region, tenant_id, owner_user_id,
		actor_user_id, state, candidate_ids, created_at, updated_at) VALUES ('ambiguous-create-0001', 'na1', $1, $2, $3, 'ambiguous', $4, $5, $5)`,
		ten.ID, user.ID, admin.ID, ids[:2], now); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	amb := keys.Doc.Find(`[data-testid="ambiguous-row"]`)
	if amb.Length() != 1 {
		t.Fatalf("%d ambiguous rows: %s", amb.Length(), text(keys))
	}
	if got := field(amb, "pending-owner"); strings.Contains(got, user.ID) || !strings.Contains(got, web.ShortID(user.ID)) {
		t.Errorf("ambiguous owner = %q", got)
	}
	amb.Find(`[data-testid="ambiguous-candidate"]`).Each(func(i int, s *goquerySelection) {
		id, _ := s.Attr("data-key-id")
		href, _ := s.Closest("a").Attr("href")
		if strings.TrimSpace(s.Text()) != web.ShortID(id) || href != "/keys/"+id || id != ids[i] {
			t.Errorf("candidate %d: %q links %q, want %q", i, s.Text(), href, web.ShortID(ids[i]))
		}
	})
}

// Row actions are real buttons in GET forms (Space presses them, no
// script needed); the destructive ones look destructive.
func TestRowActionsAreButtons(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	if n := keys.Doc.Find(`[data-testid="key-row"] a[role="button"]`).Length(); n != 0 {
		t.Errorf("%d row actions are links styled as buttons", n)
	}
	seen := map[string]bool{}
	for _, k := range ten.Keys {
		r := row(keys, k.ID)
		ops := []string{"verify", "activate", "delete"}
		if k.Active {
			ops = []string{"verify", "deactivate", "rotate"}
		}
		for _, op := range ops {
			btn := r.Find(`[data-testid="` + op + `"]`)
			form := btn.Closest("form")
			action, _ := form.Attr("action")
			method, _ := form.Attr("method")
			if !btn.Is(`button[type="submit"]`) || method != "get" || action != "/keys/"+k.ID+"/"+op {
				t.Errorf("%s on %s: element %s in form %s %q", op, k.ID, goquery0(btn), method, action)
				continue
			}
			if danger := btn.HasClass("kp-key-danger"); danger != (op == "deactivate" || op == "delete") {
				t.Errorf("%s styled destructive = %v", op, danger)
			}
			if label, _ := btn.Attr("aria-label"); !strings.HasPrefix(label, btn.Text()+" key ") {
				t.Errorf("%s accessible name %q does not start with its visible text", op, label)
			}
			if !seen[op] { // the form leads where the link did
				seen[op] = true
				if p := b.get(action); p.Status != http.StatusOK {
					t.Errorf("GET %s: %d %s", action, p.Status, text(p))
				}
			}
		}
	}
	if btn := keys.Doc.Find(`form.kp-keys-filter button`); btn.Length() != 1 || btn.Closest("form").Find("select").Length() != 1 {
		t.Error("the Filter button does not sit in one form with its select")
	}
}

func goquery0(s *goquerySelection) string {
	if s.Length() == 0 {
		return "(none)"
	}
	return goquery.NodeName(s)
}

// A user whose role has neither access-key privilege is told what the role
// lacks and what is left to do, with no create form and no raw CXone text.
func TestUserWithoutAccessKeyPrivilegesIsToldWhatTheRoleLacks(t *testing.T) {
	a := newTestApp(t)
	ten, _, _ := tenantUsers(t, a.Sim, "na1", 0)
	var viewer cxonesim.User
	for _, u := range ten.Users {
		if !u.AccessKey && !u.MyAccessKey {
			viewer = u
		}
	}
	if viewer.ID == "" {
		t.Fatal("the seeded tenant has no user without access-key privileges")
	}
	b := a.browser()
	keys := b.connect("na1", ten.ID, viewer.ID)
	if keys.Status != http.StatusForbidden {
		t.Fatalf("keys page: %d, want 403", keys.Status)
	}
	main := text(keys)
	for _, absent := range []string{`data-testid="create-form"`, `data-testid="list-error"`, `data-testid="lookup-link"`} {
		if strings.Contains(keys.Body, absent) {
			t.Errorf("the page still has %s", absent)
		}
	}
	for _, raw := range []string{"does not have the privilege", "CXone said", "HTTP 403"} {
		if strings.Contains(main, raw) {
			t.Errorf("the page shows CXone's raw refusal (%q): %s", raw, main)
		}
	}
	na := keys.Doc.Find(`[data-testid="no-access"]`)
	for _, want := range []string{"My Access Key", "Access Key", viewer.Email} {
		if !strings.Contains(na.Text(), want) {
			t.Errorf("the explanation does not name %q: %s", want, na.Text())
		}
	}
	if href, _ := na.Find(`a[data-testid="connect-other"]`).Attr("href"); href != "/connect" {
		t.Errorf("connect-as-another link %q", href)
	}
	action, _ := na.Find(`[data-testid="disconnect-this"]`).Closest("form").Attr("action")
	if p := b.post(action, nil); p.Status != http.StatusSeeOther {
		t.Errorf("disconnect from the page (%q): %d %s", action, p.Status, text(p))
	}
}

// CXone refusing a create with 403 is said in words naming the privilege,
// not in CXone's text.
func TestCreateRefusedByCXoneNamesThePrivilege(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	keys := b.connect("na1", ten.ID, admin.ID)
	a.Sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ErrorShape, Status: 403,
		Shape: cxonesim.ShapeSpring, Message: "The user does not have the privilege required to manage this access key"})
	p := b.post("/keys", url.Values{"intent": {intentOf(keys)}, "label": {"refused"}})
	msg := formError(p)
	if p.Status != http.StatusForbidden || !strings.Contains(msg, `"My Access Key"`) || strings.Contains(msg, "does not have the privilege") {
		t.Fatalf("refused create: %d %q", p.Status, msg)
	}
	if n := countAudit(t, a, `action = 'key.create' AND outcome = 'failure' AND upstream_status = 403`); n != 1 {
		t.Errorf("%d failure outcomes with CXone's 403, want 1", n)
	}
}
