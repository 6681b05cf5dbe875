package handlers_test

import (
	"context"
	"encoding/csv"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/keyport/keyport/internal/notify/notifytest"
)

// setPolicy posts the reviewer's policy form and follows it back.
func (b *browser) setPolicy(form url.Values) *page {
	b.t.Helper()
	p := b.post("/audit/policies", form)
	if p.Status != 303 {
		b.t.Fatalf("set policy %v: %d %s", form, p.Status, text(p))
	}
	return b.follow(p)
}

// createRefused posts the create form and returns the refusal page.
func (b *browser) createRefused(label string) *page {
	b.t.Helper()
	p := b.post("/keys", url.Values{"intent": {intentOf(b.get("/keys"))}, "label": {label}})
	if p.Status != 403 {
		b.t.Fatalf("create %q: status %d, want 403: %s", label, p.Status, text(p))
	}
	return p
}

// A reviewer's global policy (label required, at most N active keys per
// user) refuses a create without a label and one beyond the cap, with the
// message on the form naming the policy and saying CXone would allow it,
// each a denied key.create event; the tenant's override then allows both.
func TestKeyPolicyRefusesCreatesAndTheTenantOverrideAllowsThem(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(a.Log.String())
		}
	})
	b.createdID("first")
	active := 1
	for _, k := range ten.Keys {
		if k.Active && strings.EqualFold(k.UserID, admin.ID) {
			active++
		}
	}

	addReviewer(t, a, "rita")
	r := a.browser()
	r.signInReviewer("rita")
	page := r.setPolicy(url.Values{"label_required": {"true"}, "max_active_per_user": {strconv.Itoa(active)}})
	if page.Doc.Find(`[data-testid="policy-saved"]`).Length() != 1 {
		t.Fatalf("no saved notice: %s", text(page))
	}
	if got := strings.TrimSpace(page.Doc.Find(`[data-testid="policy-row"] [data-testid="policy-label"]`).First().Text()); got != "required" {
		t.Errorf("global label rule shows %q", got)
	}

	noLabel := formError(b.createRefused(""))
	for _, want := range []string{`"label required"`, "CXone itself would allow it"} {
		if !strings.Contains(noLabel, want) {
			t.Errorf("refusal without a label %q lacks %q", noLabel, want)
		}
	}
	overCap := formError(b.createRefused("one too many"))
	for _, want := range []string{`"max active keys per user"`, "allows " + strconv.Itoa(active), "CXone itself would allow it"} {
		if !strings.Contains(overCap, want) {
			t.Errorf("refusal beyond the cap %q lacks %q", overCap, want)
		}
	}
	if n := countAudit(t, a, `action = 'key.create' AND outcome = 'denied' AND details->>'step' = 'key policy'`); n != 2 {
		t.Errorf("%d denied key.create events for the policy, want 2", n)
	}
	if n := countAudit(t, a, `action = 'key.create' AND outcome = 'intent'`); n != 1 {
		t.Errorf("%d create intents, want 1 (the refused creates sent nothing)", n)
	}
	if n := countAudit(t, a, `action = 'policy.set' AND outcome = 'success' AND actor_user_id = 'rita' AND details->'policy'->>'label_required' = 'true'`); n != 1 {
		t.Errorf("%d policy.set events, want 1", n)
	}

	// Bad values are refused on the form, and nothing is stored.
	bad := r.post("/audit/policies", url.Values{"max_age_days": {"-3"}})
	if bad.Status != 422 || !strings.Contains(formError(bad), "whole number") {
		t.Errorf("a negative age: %d %q", bad.Status, formError(bad))
	}

	r.setPolicy(url.Values{"policy_tenant": {ten.ID}, "label_required": {"false"}, "max_active_per_user": {"0"}})
	b.createdID("")
	b.createdID("beyond the global cap")
}

// A key older than the policy's limit (its creation date seeded 100 days
// back) shows the badge with the rotation one click away, is in the
// report's CSV with the violation, raises exactly one policy.violation
// however many instances sync the same list, counts in /metrics, and after
// its rotation raises one policy.resolved.
func TestAgedKeyIsFlaggedEverywhereAndResolvedByRotation(t *testing.T) {
	hook, notifyTo := notifications(t)
	a := newTestApp(t, notifyTo)
	a.deliver()
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	oldID := b.createdID("nightly batch")
	fresh := b.createdID("fresh")
	if _, err := a.Pool.Exec(context.Background(), `UPDATE key_metadata SET created_at = now() - interval '100 days' WHERE access_key_id = $1`, oldID); err != nil {
		t.Fatal(err)
	}

	addReviewer(t, a, "rita")
	r := a.browser()
	r.signInReviewer("rita")
	r.setPolicy(url.Values{"max_age_days": {"90"}})

	// Two instances (here: goroutines on the same database) syncing the
	// same report record the start once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.App.Keys.Policies().Sync(context.Background(), "na1", ten.ID)
		}()
	}
	wg.Wait()
	keys := b.get("/keys")
	if n := countAudit(t, a, `action = 'policy.violation' AND target_key_id = $1 AND details->'policy'->>'rule' = 'max_age'`, oldID); n != 1 {
		t.Fatalf("%d policy.violation events, want 1", n)
	}
	if n := countAudit(t, a, `action = 'policy.violation' AND target_key_id <> $1`, oldID); n != 0 {
		t.Errorf("%d policy.violation events for other keys", n)
	}
	waitForBody(t, hook, `"event":"policy.violation"`, 1)

	row := keys.Doc.Find(`[data-key-id="` + oldID + `"]`)
	badge := strings.Join(strings.Fields(row.Find(`[data-testid="policy-violation"]`).Text()), " ")
	if !strings.Contains(badge, "older than the 90-day policy: rotate it") || !strings.Contains(badge, "as of") {
		t.Errorf("badge %q", badge)
	}
	if href, _ := row.Find(`[data-testid="policy-mend-max_age"]`).Attr("href"); href != "/keys/"+oldID+"/rotate" {
		t.Errorf("the badge's mend goes to %q", href)
	}
	if n := keys.Doc.Find(`[data-key-id="` + fresh + `"] [data-testid="policy-violation"]`).Length(); n != 0 {
		t.Errorf("the fresh key has %d badges", n)
	}
	detail := b.get("/keys/" + oldID)
	if !strings.Contains(detail.Doc.Find(`[data-testid="policy-violation"]`).Text(), "older than the 90-day policy") {
		t.Errorf("the key page has no badge: %s", text(detail))
	}

	recs, col := csvRecords(t, r.get("/audit/credentials.csv?violation=any"))
	if len(recs) != 2 || recs[1][col["access_key_id"]] != oldID || recs[1][col["policy_violations"]] != "max_age>90d" || recs[1][col["violating_since"]] == "" {
		t.Errorf("the CSV filtered on violations: %v", recs)
	}
	if m := r.get("/metrics").Body; !strings.Contains(m, `keyport_policy_violations{rule="max_age",tenant="`+ten.ID+`"} 1`) {
		t.Errorf("/metrics lacks the violation")
	}

	// Rotate it: the old key is deleted, the violation ends, once.
	b.rotateFully(oldID)
	b.get("/keys")
	a.App.Keys.Policies().Sync(context.Background(), "na1", ten.ID)
	if n := countAudit(t, a, `action = 'policy.resolved' AND target_key_id = $1`, oldID); n != 1 {
		t.Errorf("%d policy.resolved events, want 1", n)
	}
	if n := countAudit(t, a, `action = 'policy.violation'`); n != 1 {
		t.Errorf("%d policy.violation events after the rotation, want still 1", n)
	}
	if m := r.get("/metrics").Body; strings.Contains(m, `keyport_policy_violations{rule="max_age",tenant="`+ten.ID+`"} 1`) {
		t.Errorf("/metrics still counts the resolved violation")
	}
}

// csvRecords parses a CSV answer and indexes its header.
func csvRecords(t *testing.T, p *page) ([][]string, map[string]int) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("CSV: %v: %q", err, p.Body)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	return recs, col
}

// rotateFully runs oldID's rotation wizard to its end (old key deleted).
func (b *browser) rotateFully(oldID string) {
	b.t.Helper()
	newPage := b.post("/keys/"+oldID+"/rotate", nil)
	wizard, _ := newPage.Doc.Find(`[data-testid="saved-form"]`).Attr("action")
	secret := strings.TrimSpace(newPage.Doc.Find(`[data-testid="key-secret"]`).Text())
	for _, s := range []struct {
		path string
		form url.Values
	}{{"/deployed", nil}, {"/verify", url.Values{"access_key_secret": {secret}}}, {"/deactivate-old", nil},
		{"/delete-old", url.Values{"confirm": {confirmFor(oldID)}}}} {
		if p := b.post(wizard+s.path, s.form); p.Status != 303 {
			b.t.Fatalf("rotation %s: %d %s", s.path, p.Status, text(p))
		}
	}
}

// notifications is a signed-webhook receiver and the test app's setting
// that sends notifications to it.
func notifications(t *testing.T) (*notifytest.Receiver, func(*testSetup)) {
	hook := notifytest.New(t, "whsec_handlers")
	file := filepath.Join(t.TempDir(), "notify.secret")
	if err := os.WriteFile(file, []byte("whsec_handlers\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return hook, func(s *testSetup) {
		s.Config.Notify, s.Config.NotifySecretFile = "webhook+"+hook.Srv.URL+"/in#hook", file
		s.Options.NotifyRoots = hook.Roots()
	}
}

// deliver runs the app's sinks and notifications until the test ends.
func (a *testApp) deliver() {
	a.t.Helper()
	if err := a.App.Sinks.Prepare(context.Background()); err != nil {
		a.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.App.Sinks.Run(ctx) }()
	a.t.Cleanup(func() { cancel(); <-done })
}

// Keys made outside Keyport (the simulator's seeded keys, one made there
// later) are recorded as key.seen_outside once each, however often they
// are listed, and notified; keys made through Keyport are not.
func TestKeysMadeOutsideAreSeenOnce(t *testing.T) {
	hook, notifyTo := notifications(t)
	a := newTestApp(t, notifyTo)
	a.deliver()
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	mine := b.createdID("through Keyport")
	b.get("/keys")
	seeded := countAudit(t, a, `action = 'key.seen_outside' AND tenant_id = $1`, ten.ID)
	if seeded != len(ten.Keys) {
		t.Errorf("%d key.seen_outside events for the %d seeded keys", seeded, len(ten.Keys))
	}
	direct := createInSimulator(t, a, "na1", ten.ID, admin.ID)
	b.get("/keys?user=" + url.QueryEscape(admin.ID)) // another list: recorded now, whatever the minute
	a.App.Keys.Policies().Sync(context.Background(), "na1", ten.ID)
	for id, want := range map[string]int{direct: 1, mine: 0} {
		if n := countAudit(t, a, `action = 'key.seen_outside' AND target_key_id = $1`, id); n != want {
			t.Errorf("key %s: %d key.seen_outside events, want %d", id, n, want)
		}
	}
	if n := countAudit(t, a, `action = 'key.seen_outside'`); n != seeded+1 {
		t.Errorf("%d key.seen_outside events after listing again, want %d", n, seeded+1)
	}
	waitForBody(t, hook, `"event":"key.outside_seen"`, seeded+1)
	checkDeliveryLog(t, a, "key.outside_seen", seeded+1)
}

// checkDeliveryLog checks the Integrity page's log and /metrics count n
// deliveries of event to the "hook" target.
func checkDeliveryLog(t *testing.T, a *testApp, event string, n int) {
	t.Helper()
	addReviewer(t, a, "ivy")
	r := a.browser()
	r.signInReviewer("ivy")
	rows := r.get("/audit/integrity").Doc.Find(`[data-testid="notification-row"]`)
	got := 0
	rows.Each(func(_ int, row *goquery.Selection) {
		if strings.Contains(row.Text(), event) && strings.Contains(row.Text(), "hook") {
			got++
		}
	})
	if got != n {
		t.Errorf("the Integrity page's log has %d rows of %s, want %d", got, event, n)
	}
	if m := r.get("/metrics").Body; !strings.Contains(m, `keyport_notifications_sent_total{event="`+event+`",target="hook"} `+strconv.Itoa(n)) {
		t.Errorf("/metrics does not count %d %s notifications", n, event)
	}
}

// waitForBody waits until n accepted messages contain substr, and fails
// when more do.
func waitForBody(t *testing.T, hook *notifytest.Receiver, substr string, n int) {
	t.Helper()
	count := func() (c int) {
		for _, b := range hook.Bodies() {
			if strings.Contains(string(b), substr) {
				c++
			}
		}
		return c
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := count(); c != n {
		t.Errorf("%d messages with %s, want %d", c, substr, n)
	}
}
