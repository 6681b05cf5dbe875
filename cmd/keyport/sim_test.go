package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/secret"
)

// The token `keyport sim basic-token` prints is one the simulator accepts at
// /public/user/refresh, as the vendor guide's first step requires.
func TestSimBasicTokenIsExchangeable(t *testing.T) {
	sim := cxonesim.New(cxonesim.Options{Seed: 1})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	sim.SetBaseURL(srv.URL)
	ten := sim.Tenants()[0]
	out, _, err := runCmd(t, nil, "sim", "basic-token", "--sim", srv.URL, "--region", ten.Region, "--tenant", ten.ID, "--user", ten.Users[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 || !strings.HasPrefix(tok, "eyJ") {
		t.Fatalf("basic-token printed %q, want a JWT", tok)
	}
	c, err := cxone.NewClient(cxone.Config{URLTemplate: sim.URLTemplate(), JWKSURL: sim.JWKSURL()})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := c.ExchangeBasicToken(context.Background(), cxone.Region(ten.Region), secret.New(tok))
	if err != nil {
		t.Fatalf("exchange the printed token: %v", err)
	}
	if tokens.Identity.TenantID != ten.ID || tokens.Identity.UserID != ten.Users[0].ID || !tokens.Identity.Verified {
		t.Fatalf("identity = %+v", tokens.Identity)
	}
}

func TestSimBasicTokenNeedsTenantAndUser(t *testing.T) {
	_, _, err := runCmd(t, nil, "sim", "basic-token", "--region", "na1")
	if exitCode(err) != 2 {
		t.Fatalf("exit %d, want 2", exitCode(err))
	}
}
