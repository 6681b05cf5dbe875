package cxone_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
)

// TestIdentityVerificationModes: enforce (default with a JWKS URL), warn,
// and decode-only without one, against tokens signed by a key the JWKS
// does not hold.
func TestIdentityVerificationModes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t) // the trusted simulator: its JWKS is the client's
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rogue := cxonesim.New(cxonesim.Options{Seed: 1, SigningKey: other, Now: e.clock.Now})
	rsrv := httptest.NewServer(rogue.Handler())
	defer rsrv.Close()
	rogue.SetBaseURL(e.srv.URL) // same issuer strings: only the signature differs
	ten, admin, _, _ := e.people("na1", 0)
	exchange := func(mode cxone.VerifyMode, jwks string) (*cxone.Tokens, error) {
		cfg := e.cfg
		cfg.URLTemplate, cfg.JWKSURL, cfg.Verify = rsrv.URL+"/{region}", jwks, mode
		c, err := cxone.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		basic, _ := rogue.BasicToken("na1", ten.ID, admin.ID)
		return c.ExchangeBasicToken(ctx, "na1", basic)
	}
	_, err = exchange("", e.sim.JWKSURL())
	if ce := kindOf(t, err, cxone.UnexpectedResponse); !strings.Contains(ce.Message, "verification") {
		t.Errorf("enforce: %+v", ce)
	}
	tok, err := exchange(cxone.VerifyWarn, e.sim.JWKSURL())
	if err != nil || tok.Identity.Verified || tok.Identity.UserID != admin.ID {
		t.Errorf("warn: %+v, %v", tok, err)
	}
	if !strings.Contains(e.logs.String(), "verification failed") {
		t.Error("warn mode logged nothing")
	}
	tok, err = exchange("", "")
	if err != nil || tok.Identity.Verified || tok.Identity.TenantID != ten.ID {
		t.Errorf("decode only: %+v, %v", tok, err)
	}
	// The genuine simulator's tokens verify (access token without kid,
	// id token with one).
	good := e.login("na1", ten.ID, admin.ID)
	if !good.Identity.Verified {
		t.Error("genuine tokens not verified")
	}
}

// TestJWKSRefetchIsRateLimited: an unknown kid refetches the JWKS at most
// once per five minutes.
func TestJWKSRefetchIsRateLimited(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	rogue := cxonesim.New(cxonesim.Options{Seed: 1, SigningKey: other, Now: e.clock.Now, ReusableBasicTokens: true})
	rsrv := httptest.NewServer(rogue.Handler())
	defer rsrv.Close()
	rogue.SetBaseURL(e.srv.URL)
	ten, admin, _, _ := e.people("na1", 0)
	e.login("na1", ten.ID, admin.ID)
	if n := e.sim.Calls(cxonesim.EndpointJWKS); n != 1 {
		t.Fatalf("JWKS fetched %d times for the first login, want 1", n)
	}
	cfg := e.cfg
	cfg.URLTemplate = rsrv.URL + "/{region}"
	c, _ := cxone.NewClient(cfg)
	basic, _ := rogue.BasicToken("na1", ten.ID, admin.ID)
	for range 3 {
		if _, err := c.ExchangeBasicToken(ctx, "na1", basic); cxone.KindOf(err) != cxone.UnexpectedResponse {
			t.Fatalf("rogue token: %v", err)
		}
	}
	if n := e.sim.Calls(cxonesim.EndpointJWKS); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (first use by this client, no refetch within 5 min)", n)
	}
	e.clock.Advance(6 * time.Minute)
	basic, _ = rogue.BasicToken("na1", ten.ID, admin.ID)
	if _, err := c.ExchangeBasicToken(ctx, "na1", basic); cxone.KindOf(err) != cxone.UnexpectedResponse {
		t.Fatalf("rogue token: %v", err)
	}
	if n := e.sim.Calls(cxonesim.EndpointJWKS); n != 3 {
		t.Errorf("JWKS fetched %d times after 6 min, want 3", n)
	}
}
