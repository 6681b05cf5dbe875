package keys_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/kp"
)

// The typed confirmation is the last four characters before the base32
// padding, what the list's short id ends in: padding would ask every key
// for the same "====".
func TestDeleteConfirmationSkipsThePadding(t *testing.T) {
	for id, want := range map[string]string{
		"XWDFPDRTNIVCN3XNCNRMR6RK5NIMB6YIUYAPUV5SY7JSQ7QZOCDQ====": "OCDQ",
		"ABCDEFGHIJKLMNOP=": "MNOP",
		"ABCDEFGHIJKLMNOP":  "MNOP",
		"AB==":              "AB",
		"====":              "====", // nothing but padding: nothing else to ask for
		"":                  "",
	} {
		if got := keys.DeleteConfirmation(id); got != want {
			t.Errorf("DeleteConfirmation(%q) = %q, want %q", id, got, want)
		}
	}
}

// On a padded id from the simulator, "====" no longer confirms a delete
// and the four characters before it do; the refusal names them.
func TestDeletingAPaddedKeyAsksForTheCharactersBeforeThePadding(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	id := keyOf(t, ten, admin.ID, false)
	if len(id) < 8 || id[len(id)-4:] != "====" {
		t.Fatalf("the simulator's key id %q is not padded; the test proves nothing", id)
	}
	want := id[len(id)-8 : len(id)-4]
	if got := keys.DeleteConfirmation(id); got != want {
		t.Fatalf("DeleteConfirmation(%s) = %q, want %q", id, got, want)
	}
	_, err := e.keys.Delete(ctx, as, id, "====")
	if !errors.Is(err, keys.ErrNotConfirmed) || kp.KindOf(err) != kp.Invalid {
		t.Fatalf("typing the padding: %v; want it refused as not confirmed", err)
	}
	if msg := kp.MessageOf(err); !strings.Contains(msg, want) {
		t.Fatalf("the refusal %q does not name %q", msg, want)
	}
	if e.sim.Calls(cxonesim.EndpointDelete) != 0 {
		t.Fatal("an unconfirmed delete reached CXone")
	}
	if gone, err := e.keys.Delete(ctx, as, id, want); err != nil || gone {
		t.Fatalf("typing %q: already gone %v, %v", want, gone, err)
	}
	if _, ok := e.simKey(t, ten.ID, id); ok {
		t.Fatal("the key still exists in CXone")
	}
}
