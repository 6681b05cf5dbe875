package keys_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

func TestAnActiveKeyIsDeactivatedBeforeItIsDeleted(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	id := keyOf(t, ten, admin.ID, true)

	if _, err := e.keys.Delete(ctx, as, id); kp.KindOf(err) != kp.Conflict || !strings.Contains(kp.MessageOf(err), "Deactivate the key first") {
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

	gone, err := e.keys.Delete(ctx, as, id)
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
		{kp.KeyDelete, func() error { _, err := e.keys.Delete(ctx, as, foreign); return err }},
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
