package connection_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// TestDecoratedBasicTokensConnect: what copying adds around or inside a
// basic token is removed before it is sent, and the token then works.
func TestDecoratedBasicTokensConnect(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	for _, tc := range []struct {
		name     string
		decorate func(string) string
	}{
		{"with a Basic prefix", func(s string) string { return "Basic " + s }},
		{"in typographic quotes", func(s string) string { return "“" + s + "”" }},
		{"quoted with its Basic prefix, surrounded by white space", func(s string) string { return "  \"basic " + s + "\"\n" }},
		{"in backticks", func(s string) string { return "`" + s + "`" }},
		{"wrapped every 64 characters", func(s string) string {
			var b strings.Builder
			for len(s) > 64 {
				b.WriteString(s[:64] + "\r\n")
				s = s[64:]
			}
			return b.String() + s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			basic, err := e.sim.BasicToken("na1", ten.ID, admin.ID)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := e.conns.Connect(context.Background(), e.session(t), "na1", secret.New(tc.decorate(basic.Reveal())))
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			if conn.TenantID != ten.ID || conn.UserID != admin.ID {
				t.Errorf("connected as %s/%s, want %s/%s", conn.TenantID, conn.UserID, ten.ID, admin.ID)
			}
		})
	}
}

// TestATokenOfAnotherAreaIsNotCalledExpired: a na1 token sent to eu1 is
// refused with the area as the likeliest cause, not spent, and works in
// na1 afterwards. Once the session knows the tenant's area, the refusal
// names it and offers it.
func TestATokenOfAnotherAreaIsNotCalledExpired(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	ctx := context.Background()
	req := e.session(t)
	basic, err := e.sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.conns.Connect(ctx, req, "eu1", basic)
	msg := kp.MessageOf(err)
	if kp.KindOf(err) != kp.Unauthorized || !strings.Contains(msg, "the likeliest cause is the area") ||
		!strings.Contains(msg, "If eu1 is your area") || strings.Contains(msg, "Generate a new one") {
		t.Fatalf("na1 token in eu1: %v", err)
	}
	if _, err := e.conns.Connect(ctx, req, "na1", basic); err != nil {
		t.Fatalf("the same token in na1 after eu1 refused it: %v", err)
	}
	again, err := e.sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.conns.Connect(ctx, req, "eu1", again)
	var wa *connection.WrongArea
	if !errors.As(err, &wa) || wa.TokenArea != "na1" || wa.Chosen != "eu1" ||
		!strings.Contains(kp.MessageOf(err), "This token is for "+ten.Name+", which you connected to in na1 (North America); you chose eu1 (Europe)") {
		t.Fatalf("a known tenant's token in eu1: %v (WrongArea %+v)", err, wa)
	}
	if n := e.events(t, `action = 'connect' AND outcome = 'failure' AND upstream_status = 401 AND region = 'eu1'`); n != 2 {
		t.Errorf("%d refused eu1 connects audited, want 2", n)
	}
}

// TestAnExpiredTokenIsCalledExpired: the token's own exp says so, with the
// time; a new token is the advice.
func TestAnExpiredTokenIsCalledExpired(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	// A token signed an hour and a half ago for one hour, by a simulator of
	// the same seed (the same tenant and user ids).
	past := cxonesim.New(cxonesim.Options{Seed: 42, Now: func() time.Time { return time.Now().Add(-90 * time.Minute) }})
	old, err := past.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.conns.Connect(context.Background(), e.session(t), "na1", old)
	msg := kp.MessageOf(err)
	if kp.KindOf(err) != kp.Unauthorized || !strings.Contains(msg, "refused the token: it expired at ") ||
		!strings.Contains(msg, "30 minutes ago") || !strings.Contains(msg, "generate a new one") {
		t.Fatalf("expired token: %v", err)
	}
}

// TestConnectLearnsAMissingPrivilege: a user whose role has neither access
// key privilege is connected, told at once, and the connect's outcome says
// so; an admin is not.
func TestConnectLearnsAMissingPrivilege(t *testing.T) {
	e := newEnv(t)
	ten, admin, user := tenant(t, e.sim)
	var viewer cxonesim.User
	for _, u := range ten.Users {
		if !u.AccessKey && !u.MyAccessKey {
			viewer = u
		}
	}
	if viewer.ID == "" {
		t.Fatal("no seeded user without access-key privileges")
	}
	for _, tc := range []struct {
		name        string
		user        cxonesim.User
		wantMissing bool
	}{
		{"an admin", admin, false},
		{"a user with My Access Key", user, false},
		{"a user with neither privilege", viewer, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.connect(t, ten.ID, tc.user.ID)
			if c.Conn.NoKeyPrivileges != tc.wantMissing {
				t.Errorf("NoKeyPrivileges = %v, want %v", c.Conn.NoKeyPrivileges, tc.wantMissing)
			}
			stored, err := e.conns.Get(context.Background(), c.Req.SessionHash, c.Conn.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantMissing && (stored.CanManageOthers == nil || *stored.CanManageOthers) {
				t.Errorf("CanManageOthers = %v, want stored false", stored.CanManageOthers)
			}
			n := e.events(t, `action = 'connect' AND outcome = 'success' AND actor_user_id = $1 AND details->>'warning' LIKE '%lacks the access-key privileges%'`, tc.user.ID)
			if want := map[bool]int{true: 1, false: 0}[tc.wantMissing]; n != want {
				t.Errorf("%d connect outcomes noting the missing privileges, want %d", n, want)
			}
		})
	}
}
