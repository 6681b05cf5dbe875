package keys_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

func TestCreateSendsOnceAndReturnsTheSecretOnly(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	form := keys.CreateForm{Token: keys.NewFormToken(), Label: "  reporting ETL  "}
	res, err := e.keys.Create(ctx, as, form)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "created" || res.KeyID == "" || res.Secret.IsZero() {
		t.Fatalf("Create = %+v", res)
	}
	if k, ok := e.simKey(t, ten.ID, res.KeyID); !ok || k.UserID != admin.ID || !k.Active {
		t.Fatalf("CXone's key %s: %+v, %v; want the admin's active key", res.KeyID, k, ok)
	}
	if n := e.sim.Calls(cxonesim.EndpointCreate); n != 1 {
		t.Errorf("%d creates sent, want 1", n)
	}

	// The secret is in the answer, and Keyport recognises it (and only it)
	// for this key: what the creation page's .env download relies on.
	keyID, sec := res.KeyID, res.Secret
	if err := e.keys.CheckSecret(ctx, as, keyID, sec); err != nil {
		t.Errorf("CheckSecret of the new secret: %v", err)
	}
	if err := e.keys.CheckSecret(ctx, as, keyID, secret.New(strings.Repeat("A", 52)+"====")); kp.KindOf(err) != kp.Invalid {
		t.Errorf("CheckSecret of another secret: %v, want Invalid", err)
	}
	if v, err := e.keys.Verify(ctx, as, keyID, sec); err != nil || !v.Works {
		t.Errorf("verifying the returned secret: %+v, %v; want it to work", v, err)
	}

	fp := e.keptOnlyTheFingerprint(t, keyID, sec)

	// The trail has the intent, then the outcome naming the key.
	if n := e.events(t, `action = 'key.create' AND outcome = 'intent' AND details->>'label' = 'reporting ETL'`); n != 1 {
		t.Errorf("%d create intents, want 1", n)
	}
	if n := e.events(t, `action = 'key.create' AND outcome = 'success' AND target_key_id = $1 AND details->>'secret_fingerprint' = $2
		AND intent_id = (SELECT id FROM audit_events WHERE action = 'key.create' AND outcome = 'intent')`, keyID, fp); n != 1 {
		t.Errorf("%d create outcomes tied to the intent, want 1", n)
	}
	if got := e.createState(t, form.Token); got != "created" {
		t.Errorf("create state %q, want created", got)
	}

	// The pasted secret finds its key.
	found, err := e.keys.Lookup(ctx, as, sec)
	if err != nil || !found.Found || found.Key.ID != keyID || found.Key.Label != "reporting ETL" {
		t.Errorf("Lookup = %+v, %v; want key %s", found, err, keyID)
	}

	// The same form again creates nothing.
	if _, err := e.keys.Create(ctx, as, form); kp.KindOf(err) != kp.Conflict || !strings.Contains(kp.MessageOf(err), keyID) {
		t.Errorf("second submit: %v; want a conflict naming %s", err, keyID)
	}
	if n := e.sim.Calls(cxonesim.EndpointCreate); n != 1 {
		t.Errorf("%d creates sent after a double submit, want 1", n)
	}
}

// keptOnlyTheFingerprint: Keyport keeps a fingerprint and the last four
// characters of a new key's secret, never the secret. It returns the
// fingerprint.
func (e *env) keptOnlyTheFingerprint(t *testing.T, keyID string, sec secret.Secret) string {
	t.Helper()
	ctx := context.Background()
	fp := e.trail.Keys().Fingerprint(sec)
	last4 := strings.TrimRight(sec.Reveal(), "=")
	last4 = last4[len(last4)-4:]
	var label, storedFP, storedLast4 string
	if err := e.pool.QueryRow(ctx, `SELECT label, secret_fingerprint, secret_last4 FROM key_metadata WHERE access_key_id = $1`, keyID).
		Scan(&label, &storedFP, &storedLast4); err != nil {
		t.Fatal(err)
	}
	if label != "reporting ETL" || storedFP != fp || storedLast4 != last4 {
		t.Errorf("notes: label %q, fingerprint %q, last4 %q; want %q, %q, %q", label, storedFP, storedLast4, "reporting ETL", fp, last4)
	}
	for _, table := range []string{"audit_events", "key_metadata", "key_creates"} {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` t WHERE t::text LIKE '%' || $1 || '%'`, strings.TrimRight(sec.Reveal(), "=")).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows hold the secret", table, n)
		}
	}
	return fp
}

func TestCreateForAnotherUserNeedsAccessKey(t *testing.T) {
	e := newEnv(t)
	ten, admin, user := tenant(t, e.sim, 0)
	ctx := context.Background()

	res, err := e.keys.Create(ctx, e.connect(t, ten.ID, admin.ID), keys.CreateForm{Token: keys.NewFormToken(), UserID: user.ID})
	if err != nil || res.State != "created" {
		t.Fatalf("an admin creating for a user: %+v, %v", res, err)
	}
	if k, _ := e.simKey(t, ten.ID, res.KeyID); k.UserID != user.ID {
		t.Errorf("the key is %s's, want %s's", k.UserID, user.ID)
	}

	plain := e.connect(t, ten.ID, user.ID)
	if _, err := e.keys.List(ctx, plain, ""); err != nil { // learns the user has My Access Key only
		t.Fatal(err)
	}
	_, err = e.keys.Create(ctx, plain, keys.CreateForm{Token: keys.NewFormToken(), UserID: admin.ID})
	if kp.KindOf(err) != kp.Forbidden {
		t.Fatalf("a plain user creating for the admin: %v, want Forbidden", err)
	}
	if n := e.events(t, `action = 'key.create' AND outcome = 'denied' AND details->>'owner_user_id' = $1`, admin.ID); n != 1 {
		t.Errorf("%d denied creates, want 1", n)
	}
	if n := e.sim.Calls(cxonesim.EndpointCreate); n != 1 {
		t.Errorf("%d creates sent, want only the admin's", n)
	}
}

// §6: a create whose answer is lost after CXone made the key, and whose
// immediate re-list fails too, stays pending; the next list of the keys
// page settles it as "secret lost", tied to the create's intent.
func TestALostCreateAnswerSettlesAsSecretLostOnTheNextList(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	form := keys.CreateForm{Token: keys.NewFormToken(), Label: "lost answer"}
	e.loseCreate(t, as, form)
	if n := e.sim.Calls(cxonesim.EndpointCreate); n != 1 {
		t.Fatalf("%d creates sent, want exactly 1", n)
	}
	pending, err := e.keys.Pending(ctx, as.Conn)
	if err != nil || len(pending) != 1 || pending[0].Label != "lost answer" || pending[0].OwnerUserID != admin.ID {
		t.Fatalf("Pending = %+v, %v; want the lost create", pending, err)
	}
	made := e.madeKey(t, ten)

	l, err := e.keys.List(ctx, as, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Reconciled) != 1 || !strings.Contains(l.Reconciled[0], made) || !strings.Contains(l.Reconciled[0], "secret) was lost") {
		t.Errorf("reconciled %q; want the secret of %s lost", l.Reconciled, made)
	}
	if len(l.Pending) != 0 {
		t.Errorf("still pending: %+v", l.Pending)
	}
	i := slices.IndexFunc(l.Keys, func(k keys.Key) bool { return k.ID == made })
	if i < 0 || !l.Keys[i].SecretLost || l.Keys[i].Label != "lost answer" {
		t.Errorf("the made key in the listing: %+v; want it marked secret lost", l.Keys)
	}
	if st := e.createState(t, form.Token); st != "secret_lost" {
		t.Errorf("state %q, want secret_lost", st)
	}
	if n := e.events(t, `action = 'key.create' AND outcome = 'unknown'`); n != 1 {
		t.Errorf("%d unknown create outcomes, want 1", n)
	}
	if n := e.events(t, `action = 'key.reconcile' AND outcome = 'success' AND target_key_id = $1
		AND intent_id = (SELECT id FROM audit_events WHERE action = 'key.create' AND outcome = 'intent')`, made); n != 1 {
		t.Errorf("%d reconcile outcomes tied to the create's intent, want 1", n)
	}
}

// loseCreate submits form as a create CXone carries out but whose answer is
// lost, and whose immediate re-list fails too (three attempts, once the
// create is on its way): the create stays pending.
func (e *env) loseCreate(t *testing.T, as connection.Caller, form keys.CreateForm) {
	t.Helper()
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.DropAfterCommit, Count: 1})
	failLists := func(r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/access-key-management/v1/access-keys") {
			e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Status: 503, Count: 3})
		}
	}
	e.before.Store(&failLists)
	defer e.before.Store(nil)
	res, err := e.keys.Create(context.Background(), as, form)
	if err != nil || res.State != "unknown" || !res.Secret.IsZero() {
		t.Fatalf("Create = %+v, %v; want an unknown outcome and no secret", res, err)
	}
	if st := e.createState(t, form.Token); st != "unknown" {
		t.Fatalf("state %q, want unknown", st)
	}
}

// madeKey returns the one key CXone holds for ten that was not seeded.
func (e *env) madeKey(t *testing.T, ten cxonesim.Tenant) string {
	t.Helper()
	now, _ := e.sim.Tenant("na1", ten.ID)
	var made []string
	for _, k := range now.Keys {
		if !slices.ContainsFunc(ten.Keys, func(s cxonesim.Key) bool { return s.ID == k.ID }) {
			made = append(made, k.ID)
		}
	}
	if len(made) != 1 {
		t.Fatalf("the simulator made keys %v, want one", made)
	}
	return made[0]
}

// A list of one user's keys says nothing of another owner's lost create:
// it leaves it pending rather than call it "not created".
func TestAListOfOneUserLeavesAnotherOwnersLostCreatePending(t *testing.T) {
	e := newEnv(t)
	ten, admin, user := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	form := keys.CreateForm{Token: keys.NewFormToken(), Label: "mine"}
	e.loseCreate(t, as, form)
	made := e.madeKey(t, ten)

	l, err := e.keys.List(ctx, as, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Reconciled) != 0 || e.createState(t, form.Token) != "unknown" {
		t.Fatalf("a list of %s's keys settled the admin's create: %q, state %q", user.ID, l.Reconciled, e.createState(t, form.Token))
	}
	if _, err := e.keys.List(ctx, as, ""); err != nil {
		t.Fatal(err)
	}
	if st := e.createState(t, form.Token); st != "secret_lost" {
		t.Errorf("after a tenant-wide list: state %q, want secret_lost (key %s)", st, made)
	}
}

// A create CXone refuses hands back the keys page it listed on the way,
// so the form can be shown again without a second list.
func TestARefusedCreateReturnsTheKeysPageItListed(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	connectLists := e.sim.Calls(cxonesim.EndpointList) // connect lists the user's own keys once
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ErrorShape, Status: 400,
		Shape: cxonesim.ShapeSpring, Message: "Maximum number of access keys reached"})
	form := keys.CreateForm{Token: keys.NewFormToken(), Label: "one too many"}
	res, err := e.keys.Create(ctx, as, form)
	if kp.KindOf(err) != kp.Invalid || !strings.Contains(kp.MessageOf(err), "Maximum number of access keys reached") {
		t.Fatalf("Create = %v; want CXone's refusal", err)
	}
	if res == nil || res.Listing == nil || len(res.Listing.Keys) != len(ten.Keys) || !res.Secret.IsZero() {
		t.Fatalf("result %+v; want the tenant's %d keys and no secret", res, len(ten.Keys))
	}
	if n := e.sim.Calls(cxonesim.EndpointList) - connectLists; n != 1 {
		t.Errorf("%d list calls, want 1", n)
	}
	if st := e.createState(t, form.Token); st != "failed" {
		t.Errorf("state %q, want failed", st)
	}
	if n := e.events(t, `action = 'key.create' AND outcome = 'failure' AND upstream_status = 400 AND intent_id IS NOT NULL`); n != 1 {
		t.Errorf("%d failed create outcomes, want 1", n)
	}
}

// The owner's keys before a create (S0) come from the keys page's list only
// when it holds all of them; when CXone says it may be cut short, Keyport
// lists the owner's keys on their own.
func TestTheKeysBeforeACreateAreAllTheOwners(t *testing.T) {
	for _, tc := range []struct {
		name      string
		variants  cxonesim.Variants
		wantLists int
	}{
		{"from the keys page's list", cxonesim.Variants{}, 1},
		{"from the owner's own list when the page's may be incomplete", cxonesim.Variants{TotalRecordsDelta: 5}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ten, admin, _ := tenant(t, e.sim, 0)
			ctx := context.Background()
			as := e.connect(t, ten.ID, admin.ID)
			connectLists := e.sim.Calls(cxonesim.EndpointList) // connect lists the user's own keys once
			e.sim.SetVariants(tc.variants)
			form := keys.CreateForm{Token: keys.NewFormToken()}
			if res, err := e.keys.Create(ctx, as, form); err != nil || res.State != "created" {
				t.Fatalf("Create = %+v, %v", res, err)
			}
			if n := e.sim.Calls(cxonesim.EndpointList) - connectLists; n != tc.wantLists {
				t.Errorf("%d list calls, want %d", n, tc.wantLists)
			}
			var before []string
			if err := e.pool.QueryRow(ctx, `SELECT before_ids FROM key_creates WHERE form_token = $1`, form.Token).Scan(&before); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, k := range ten.Keys {
				if k.UserID == admin.ID {
					want = append(want, k.ID)
				}
			}
			slices.Sort(before)
			slices.Sort(want)
			if !slices.Equal(before, want) {
				t.Errorf("keys before the create %v, want the admin's %v", before, want)
			}
		})
	}
}

// A lost create after which two new keys appeared is ambiguous: Keyport
// will not guess which is the person's, and the keys page keeps showing it,
// with both candidates, on every load until neither key exists any more.
func TestAnAmbiguousCreateStaysOnTheKeysPageUntilItsKeysAreGone(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	e.loseCreate(t, as, keys.CreateForm{Token: keys.NewFormToken(), Label: "lost"})
	other, err := e.keys.Create(ctx, as, keys.CreateForm{Token: keys.NewFormToken(), Label: "meanwhile"})
	if err != nil {
		t.Fatal(err)
	}
	ambiguous := func() []string {
		t.Helper()
		l, err := e.keys.List(ctx, as, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Pending {
			if p.State == "ambiguous" {
				return p.CandidateIDs
			}
		}
		return nil
	}
	first := ambiguous()
	if len(first) != 2 || !slices.Contains(first, other.KeyID) {
		t.Fatalf("ambiguous candidates %v, want two including %s", first, other.KeyID)
	}
	if again := ambiguous(); !slices.Equal(again, first) {
		t.Fatalf("the next load shows %v, want the same candidates %v", again, first)
	}
	for _, id := range first {
		if err := e.keys.SetActive(ctx, as, id, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.keys.Delete(ctx, as, id, keys.DeleteConfirmation(id)); err != nil {
			t.Fatal(err)
		}
	}
	if left := ambiguous(); left != nil {
		t.Fatalf("after both keys were deleted the page still shows %v", left)
	}
}
