package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ASVS 7.4.5 and 7.4.3 through the built binary: an operator lists a
// reviewer's sessions and ends them; reset-password ends them too.
func TestOperatorListsAndEndsReviewerSessions(t *testing.T) {
	w := newWorld(t)
	w.env = append(w.env, "KEYPORT_TRUSTED_PROXIES=127.0.0.1/32")
	p := w.start()
	const pw = "correct horse battery staple"
	w.addReviewer("alice", pw)
	signIn := func() *admin {
		b := w.newAdmin()
		if r := b.do("POST", p.url, "/reviewer/login", url.Values{"username": {"alice"}, "password": {pw}}); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d %v %.300s", r.status, r.err, r.body)
		}
		return b
	}
	signedIn := func(b *admin) bool { return b.do("GET", p.url, "/audit", nil).status == http.StatusOK }
	one, two := signIn(), signIn()

	out := w.keyport("reviewer", "sessions", "--username", "alice")
	for _, want := range []string{"SIGNED IN", one.ip, two.ip, "local:alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("sessions lacks %q:\n%s", want, out)
		}
	}
	out = w.keyport("reviewer", "sessions", "--username", "alice", "--end")
	if !strings.Contains(out, "2 sessions of reviewer alice ended") {
		t.Errorf("sessions --end says:\n%s", out)
	}
	if signedIn(one) || signedIn(two) {
		t.Fatal("a session survived sessions --end")
	}
	if n := w.scalar(`SELECT count(*) FROM audit_events WHERE action = 'auditor.logout' AND actor_kind = 'system'
		AND details->>'step' = 'ended by an operator' AND details->>'count' = '2'`); n != 1 {
		t.Errorf("%d audited ends, want 1", n)
	}

	three := signIn()
	w.keyportStdin("another long password\n", "reviewer", "reset-password", "--username", "alice")
	if signedIn(three) {
		t.Fatal("a session survived reset-password")
	}
	if out := w.keyport("reviewer", "sessions", "--username", "alice"); strings.Contains(out, three.ip) {
		t.Errorf("the reset session is still listed:\n%s", out)
	}
}
