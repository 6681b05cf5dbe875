package main

import (
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// addReviewer runs `keyport reviewer add`, the password on standard input.
func (w *world) addReviewer(name, password string) {
	w.t.Helper()
	cmd := exec.Command(keyportBinary(w.t), "reviewer", "add", "--username", name)
	cmd.Env = w.env
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("reviewer add: %v\n%s", err, out)
	}
}

// 30 wrong passwords from one address (an office behind one NAT address)
// lock it out; unlocking the name does not lift that, and says which
// address is still locked; `keyport reviewer unlock --address` does, and
// the right password from there signs in at once.
func TestUnlockAddressLetsTheRightPasswordInAtOnce(t *testing.T) {
	w := newWorld(t)
	w.env = append(w.env, "KEYPORT_TRUSTED_PROXIES=127.0.0.1/32")
	p := w.start()
	const pw = "correct horse battery staple"
	w.addReviewer("alice", pw)
	office := w.newAdmin() // a browser behind the office's address
	login := func(name, password string) answer {
		return office.do("POST", p.url, "/reviewer/login", url.Values{"username": {name}, "password": {password}})
	}
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	var last answer
	for i := range 30 {
		last = login(names[i%len(names)], "wrong password "+names[i%len(names)])
		if last.status != http.StatusUnauthorized && last.status != http.StatusTooManyRequests {
			t.Fatalf("wrong password %d: status %d, want 401 or 429", i+1, last.status)
		}
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("after 30 wrong passwords: status %d, want 429", last.status)
	}
	locked := login("alice", pw)
	if locked.status != http.StatusTooManyRequests {
		t.Fatalf("the right password from the locked address: status %d, want 429", locked.status)
	}
	for _, want := range []string{"ask a Keyport operator", "keyport reviewer unlock", `data-testid="request-id"`} {
		if !strings.Contains(locked.body, want) {
			t.Errorf("the 429 page lacks %q", want)
		}
	}
	for _, leak := range []string{office.ip, "this address", "this name"} {
		if strings.Contains(locked.body, leak) {
			t.Errorf("the 429 page says %q: it tells a guesser which lock holds", leak)
		}
	}

	out := w.keyport("reviewer", "unlock", "--username", "alice")
	if !strings.Contains(out, "address "+office.ip+" is still locked out") || !strings.Contains(out, "unlock --address "+office.ip) {
		t.Errorf("unlock --username does not name the locked address and its command:\n%s", out)
	}
	if r := login("alice", pw); r.status != http.StatusTooManyRequests {
		t.Fatalf("after unlocking the name only: status %d, want 429 (the address stays locked)", r.status)
	}

	out = w.keyport("reviewer", "unlock", "--address", office.ip)
	if !strings.Contains(out, "sign-in locks on address "+office.ip+" lifted") {
		t.Errorf("unlock --address says:\n%s", out)
	}
	if r := login("alice", pw); r.status != http.StatusSeeOther || r.location != "/audit" {
		t.Fatalf("the right password after unlock --address: status %d → %q, want 303 → /audit: %.300s", r.status, r.location, r.body)
	}
	if n := w.scalar(`SELECT count(*) FROM audit_events WHERE action = 'auditor.enable' AND outcome = 'success'
		AND details->>'step' = 'unlock address' AND details->>'label' = $1`, "address "+office.ip); n != 1 {
		t.Errorf("%d audited address unlocks, want 1", n)
	}
	if _, code := w.keyportCode("reviewer", "unlock", "--address", "not-an-ip"); code == 0 {
		t.Error("unlock --address not-an-ip succeeded")
	}
	if _, code := w.keyportCode("reviewer", "unlock"); code != 2 {
		t.Errorf("unlock with neither flag: exit %d, want 2", code)
	}
}
