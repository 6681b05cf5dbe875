package keys_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

func TestAnActiveKeyIsDeactivatedBeforeItIsDeleted(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	id := keyOf(t, ten, admin.ID, true)

	if _, err := e.keys.Delete(ctx, as, id, keys.DeleteConfirmation(id)); kp.KindOf(err) != kp.Conflict || !strings.Contains(kp.MessageOf(err), "Deactivate the key first") {
		t.Fatalf("deleting an active key: %v; want a conflict saying to deactivate it first", err)
	}
	if _, ok := e.simKey(t, ten.ID, id); !ok || e.sim.Calls(cxonesim.EndpointDelete) != 0 {
		t.Fatal("a delete reached CXone")
	}
	if n := e.events(t, `action = 'key.delete' AND outcome = 'denied' AND target_key_id = $1`, id); n != 1 {
		t.Errorf("%d denied deletes, want 1", n)
	}

	if err := e.keys.SetActive(ctx, as, id, false); err != nil {
		t.Fatal(err)
	}
	if k, _ := e.simKey(t, ten.ID, id); k.Active {
		t.Fatal("the key is still active in CXone")
	}
	if n := e.events(t, `action = 'key.deactivate' AND outcome = 'success' AND target_key_id = $1 AND intent_id IS NOT NULL`, id); n != 1 {
		t.Errorf("%d deactivate outcomes, want 1", n)
	}

	gone, err := e.keys.Delete(ctx, as, id, keys.DeleteConfirmation(id))
	if err != nil || gone {
		t.Fatalf("deleting the inactive key: already gone %v, %v", gone, err)
	}
	if _, ok := e.simKey(t, ten.ID, id); ok {
		t.Fatal("the key still exists in CXone")
	}
	if n := e.events(t, `action = 'key.delete' AND outcome = 'success' AND target_key_id = $1 AND intent_id IS NOT NULL`, id); n != 1 {
		t.Errorf("%d delete outcomes, want 1", n)
	}
}

// Another tenant's key id is "not found", is recorded as denied, and no
// mutating call reaches CXone, whatever the action.
func TestAnotherTenantsKeyIsNotFound(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	other, otherAdmin, _ := tenant(t, e.sim, 1)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	foreign := keyOf(t, other, otherAdmin.ID, true)
	for _, tc := range []struct {
		action kp.Action
		do     func() error
	}{
		{kp.KeyDeactivate, func() error { return e.keys.SetActive(ctx, as, foreign, false) }},
		{kp.KeyActivate, func() error { return e.keys.SetActive(ctx, as, foreign, true) }},
		{kp.KeyDelete, func() error { _, err := e.keys.Delete(ctx, as, foreign, keys.DeleteConfirmation(foreign)); return err }},
		{kp.KeyVerify, func() error { _, err := e.keys.Verify(ctx, as, foreign, secret.New("anything")); return err }},
		{kp.KeyRotate, func() error { _, _, err := e.keys.StartRotation(ctx, as, foreign); return err }},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			err := tc.do()
			if kp.KindOf(err) != kp.NotFound || !strings.Contains(kp.MessageOf(err), "There is no key "+foreign+" in "+ten.Name) {
				t.Errorf("%s on another tenant's key: %v; want not found in %s", tc.action, err, ten.Name)
			}
			if n := e.events(t, `action = $1 AND outcome = 'denied' AND target_key_id = $2 AND tenant_id = $3`, string(tc.action), foreign, ten.ID); n != 1 {
				t.Errorf("%d denied %s events, want 1", n, tc.action)
			}
		})
	}
	if k, ok := e.simKey(t, other.ID, foreign); !ok || !k.Active {
		t.Errorf("the other tenant's key changed: %+v, exists %v", k, ok)
	}
	for _, ep := range []string{cxonesim.EndpointPatch, cxonesim.EndpointDelete, cxonesim.EndpointToken, cxonesim.EndpointCreate} {
		if n := e.sim.Calls(ep); n != 0 {
			t.Errorf("%d %s calls reached CXone", n, ep)
		}
	}
}

func TestAPlainUserCannotActOnAnotherUsersKey(t *testing.T) {
	e := newEnv(t)
	ten, admin, user := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, user.ID)
	if _, err := e.keys.List(ctx, as, ""); err != nil { // learns the user has My Access Key only
		t.Fatal(err)
	}
	id := keyOf(t, ten, admin.ID, true)
	if err := e.keys.SetActive(ctx, as, id, false); kp.KindOf(err) != kp.Forbidden {
		t.Fatalf("deactivating the admin's key as a plain user: %v, want Forbidden", err)
	}
	if k, _ := e.simKey(t, ten.ID, id); !k.Active || e.sim.Calls(cxonesim.EndpointPatch) != 0 {
		t.Error("the admin's key was changed")
	}
	if n := e.events(t, `action = 'key.deactivate' AND outcome = 'denied' AND target_key_id = $1`, id); n != 1 {
		t.Errorf("%d denied deactivations, want 1", n)
	}
}

// Two deletes of one key, one after the other as when two tabs race: the
// second finds the key gone and is recorded as "already gone", not as the
// denied probe of a key from another tenant.
func TestTheLoserOfTwoDeletesIsAlreadyGoneNotDenied(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	res, err := e.keys.Create(ctx, as, keys.CreateForm{Token: keys.NewFormToken(), Label: "raced"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.SetActive(ctx, as, res.KeyID, false); err != nil {
		t.Fatal(err)
	}
	if gone, err := e.keys.Delete(ctx, as, res.KeyID, keys.DeleteConfirmation(res.KeyID)); err != nil || gone {
		t.Fatalf("first delete: gone %v, %v", gone, err)
	}
	if gone, err := e.keys.Delete(ctx, as, res.KeyID, keys.DeleteConfirmation(res.KeyID)); err != nil || !gone {
		t.Fatalf("second delete: gone %v, %v; want already gone", gone, err)
	}
	if n := e.events(t, `action = 'key.delete' AND outcome = 'denied'`); n != 0 {
		t.Errorf("%d denied deletes, want none", n)
	}
	if n := e.events(t, `action = 'key.delete' AND outcome = 'success' AND error_message = 'already gone' AND target_key_id = $1`, res.KeyID); n != 1 {
		t.Errorf("%d 'already gone' deletes, want 1", n)
	}
	// A made-up id is still a denied probe.
	if _, err := e.keys.Delete(ctx, as, strings.Repeat("Q", 52)+"====", "QQQQ"); kp.KindOf(err) != kp.NotFound {
		t.Fatalf("unknown id: %v", err)
	}
	if n := e.events(t, `action = 'key.delete' AND outcome = 'denied'`); n != 1 {
		t.Errorf("%d denied deletes after a made-up id, want 1", n)
	}
}

// `keyport reconcile` asks CXone about an open deactivate, activate or
// delete before closing it: a deactivate that did happen is a success, one
// that did not is a failure, and what cannot be read back stays unknown.
func TestReconcileReadsBackWhatBecameOfAnOpenStateChange(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	done := keyOf(t, ten, admin.ID, true)
	made, err := e.keys.Create(ctx, as, keys.CreateForm{Token: keys.NewFormToken(), Label: "stays active"})
	if err != nil {
		t.Fatal(err)
	}
	notDone := made.KeyID
	// Three intents whose outcomes were lost; only the first deactivate happened.
	for _, ev := range []audit.Event{as.Event(kp.KeyDeactivate, done), as.Event(kp.KeyDeactivate, notDone), as.Event(kp.KeyCreate, "")} {
		if _, err := e.trail.Intent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.conns.SetActive(ctx, as, done, admin.ID, false); err != nil {
		t.Fatal(err)
	}
	closed, err := e.trail.CloseOpenIntents(ctx, time.Now().Add(time.Minute), e.keys.CheckIntent)
	if err != nil || closed != 3 {
		t.Fatalf("closed %d, %v; want 3", closed, err)
	}
	for _, c := range []struct {
		where, outcome string
		args           []any
	}{
		{`action = 'key.deactivate' AND target_key_id = $1`, "success", []any{done}},
		{`action = 'key.deactivate' AND target_key_id = $1`, "failure", []any{notDone}},
		{`action = 'key.create'`, "unknown", nil},
	} {
		if n := e.events(t, c.where+` AND outcome = '`+c.outcome+`'`, c.args...); n != 1 {
			t.Errorf("%s %v: %d %s outcomes, want 1", c.where, c.args, n, c.outcome)
		}
	}
}
