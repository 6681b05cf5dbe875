package reviewer

import (
	"context"
	"testing"
)

// UnlockAddress lifts the address's lock and the names' from it, and
// nothing of another address, even one spelt inside a tried name.
func TestUnlockAddressLiftsOnlyThatAddress(t *testing.T) {
	f := newFixture(t, Options{MaxFailures: 3, MaxIPFailures: 4})
	const pw = "a long enough password"
	f.add(t, "alice", pw, false)
	for _, name := range []string{"alice", "alice", "alice", "x|203.0.113.9"} {
		f.signIn(name, "wrong password!!", "", "203.0.113.5")
	}
	for range 4 {
		f.signIn("bob", "wrong password!!", "", "203.0.113.9")
	}
	if _, err := f.signIn("alice", pw, "", "203.0.113.5"); err != ErrLocked {
		t.Fatalf("before: %v, want ErrLocked", err)
	}
	locked, err := f.svc.LockedAddresses(context.Background(), "alice")
	if err != nil || len(locked) != 1 || locked[0] != "203.0.113.5" {
		t.Fatalf("locked addresses of alice: %v %v, want [203.0.113.5]", locked, err)
	}
	if _, err := f.svc.UnlockAddress(context.Background(), operator, "bogus"); err == nil {
		t.Fatal("unlocked a bogus address")
	}
	n, err := f.svc.UnlockAddress(context.Background(), operator, " ::ffff:203.0.113.5 ")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // ip:, alice's pair, the pipe name's pair
		t.Errorf("forgot %d counts, want 3", n)
	}
	if _, err := f.signIn("alice", pw, "", "203.0.113.5"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	if _, err := f.signIn("alice", pw, "", "203.0.113.9"); err != ErrLocked {
		t.Fatalf("the other address: %v, want it still locked", err)
	}
}
