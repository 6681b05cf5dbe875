package cxone_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/secret"
)

var keyFormat = regexp.MustCompile(`^[A-Z2-7]{52}====$`)

// TestVendorGuideFlowInEveryArea walks the guide (exchange, create, token
// from the key) and the rest of the key life cycle in every area.
func TestVendorGuideFlowInEveryArea(t *testing.T) {
	e := newEnv(t)
	for _, region := range e.client.Regions() {
		t.Run(string(region), func(t *testing.T) {
			ten, admin, _, _ := e.people(string(region), 0)
			tok := e.login(string(region), ten.ID, admin.ID)
			checkGuideLogin(t, e, tok, ten, admin)
			checkGuideSeedList(t, e, region, tok)
			created := checkGuideCreateAndUse(t, e, region, tok, ten, admin)
			checkGuideDeactivateAndDelete(t, e, region, tok, created, ten, admin)
		})
	}
}

// checkGuideLogin checks the identity and lifetimes of the admin's tokens.
func checkGuideLogin(t *testing.T, e *env, tok *cxone.Tokens, ten cxonesim.Tenant, admin cxonesim.User) {
	t.Helper()
	id := tok.Identity
	if id.UserID != admin.ID || id.TenantID != ten.ID || id.TenantName != ten.Name || !id.Verified {
		t.Fatalf("identity = %+v, want user %s tenant %s %q verified", id, admin.ID, ten.ID, ten.Name)
	}
	if !strings.HasPrefix(id.BusinessUnit, "-") || id.Role != "Administrator" || id.DisplayName != admin.Email {
		t.Errorf("identity display fields = %+v", id)
	}
	if d := tok.AccessExpires.Sub(e.clock.Now()); d != time.Hour {
		t.Errorf("access expires in %v, want 1h", d)
	}
	if d := tok.RefreshExpires.Sub(e.clock.Now()); d != 2*time.Hour {
		t.Errorf("refresh expires in %v, want 2h (from the refresh JWT, since the body says 0)", d)
	}
}

// checkGuideSeedList checks the tenant's seeded keys.
func checkGuideSeedList(t *testing.T, e *env, region cxone.Region, tok *cxone.Tokens) {
	t.Helper()
	list, err := e.client.ListKeys(context.Background(), region, tok.Access, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) != 3 || list.PossiblyIncomplete || list.TotalRecords != 3 {
		t.Fatalf("tenant list = %d keys, incomplete %v, total %d; want 3, false, 3", len(list.Keys), list.PossiblyIncomplete, list.TotalRecords)
	}
	var inactive, old int
	for _, k := range list.Keys {
		if !k.Active {
			inactive++
		}
		if k.LastUsed != nil && e.clock.Now().Sub(*k.LastUsed) > 300*24*time.Hour {
			old++
		}
	}
	if inactive != 1 || old != 1 {
		t.Errorf("seed keys: %d inactive, %d long unused; want 1 and 1", inactive, old)
	}
}

// checkGuideCreateAndUse creates a key for the admin, gets a token with it
// and checks that the key now shows as used.
func checkGuideCreateAndUse(t *testing.T, e *env, region cxone.Region, tok *cxone.Tokens, ten cxonesim.Tenant, admin cxonesim.User) *cxone.CreatedKey {
	t.Helper()
	ctx, id := context.Background(), tok.Identity
	created, err := e.client.CreateKey(ctx, region, tok.Access, id.TenantID, id.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !keyFormat.MatchString(created.ID) || !keyFormat.MatchString(created.Secret.Reveal()) || !created.Active ||
		created.UserID != admin.ID || created.TenantID != ten.ID {
		t.Fatalf("created = %+v (id format ok: %v)", created.AccessKey, keyFormat.MatchString(created.ID))
	}
	kt, err := e.client.TokenFromAccessKey(ctx, region, created.ID, created.Secret)
	if err != nil {
		t.Fatalf("token from new key: %v", err)
	}
	if kt.Identity.UserID != admin.ID || kt.Identity.TenantID != ten.ID || !kt.Identity.Verified || kt.ID.IsZero() {
		t.Errorf("key token identity = %+v", kt.Identity)
	}
	got, err := e.client.GetKey(ctx, region, tok.Access, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || !got.Active || got.LastUsed == nil || !got.LastUsed.Equal(e.clock.Now()) {
		t.Errorf("get after use = %+v, want active and last used now", got)
	}
	return created
}

// checkGuideDeactivateAndDelete deactivates and deletes the created key
// and checks that it can no longer be used or found.
func checkGuideDeactivateAndDelete(t *testing.T, e *env, region cxone.Region, tok *cxone.Tokens, created *cxone.CreatedKey, ten cxonesim.Tenant, admin cxonesim.User) {
	t.Helper()
	ctx := context.Background()
	if err := e.client.SetActive(ctx, region, tok.Access, created.ID, ten.ID, admin.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, err := e.client.GetKey(ctx, region, tok.Access, created.ID); err != nil || got.Active {
		t.Fatalf("after deactivate: %+v, %v", got, err)
	}
	_, err := e.client.TokenFromAccessKey(ctx, region, created.ID, created.Secret)
	if ce := kindOf(t, err, cxone.Unauthorized); ce.Status != 401 || ce.Message != "The access key is invalid or inactive" {
		t.Errorf("inactive key token: %+v", ce)
	}
	if err := e.client.DeleteKey(ctx, region, tok.Access, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetKey(ctx, region, tok.Access, created.ID)
	kindOf(t, err, cxone.NotFound)
	err = e.client.DeleteKey(ctx, region, tok.Access, created.ID)
	if ce := kindOf(t, err, cxone.NotFound); ce.Status != 404 || ce.Message != "Access key not found" {
		t.Errorf("second delete: %+v", ce)
	}
	_, err = e.client.TokenFromAccessKey(ctx, region, created.ID, created.Secret)
	kindOf(t, err, cxone.Unauthorized)
}

func TestAreasAndLocalRefusals(t *testing.T) {
	c, err := cxone.NewClient(cxone.Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[cxone.Region]string{"na1": "https://na1.nice-incontact.com", "au1": "https://au1.nice-incontact.com",
		"eu1": "https://eu1.niceincontact.com", "na2": "https://na2.niceincontact.com", "uk1": "https://uk1.niceincontact.com",
		"ca1": "https://ca1.niceincontact.com", "jp1": "https://jp1.niceincontact.com"}
	if got := c.Regions(); len(got) != len(want) || got[0] != "au1" || got[len(got)-1] != "uk1" {
		t.Errorf("Regions() = %v", got)
	}
	for r, u := range want {
		if got, err := c.BaseURL(r); err != nil || got != u {
			t.Errorf("BaseURL(%s) = %q, %v; want %q", r, got, err, u)
		}
	}
	if _, err := c.BaseURL("xx9"); !errors.Is(err, cxone.ErrUnknownRegion) {
		t.Errorf("BaseURL(xx9) error = %v, want ErrUnknownRegion", err)
	}
	tc, err := cxone.NewClient(cxone.Config{URLTemplate: "http://127.0.0.1:8081/{region}"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tc.BaseURL("eu1"); got != "http://127.0.0.1:8081/eu1" {
		t.Errorf("template BaseURL(eu1) = %q", got)
	}
	if _, err := cxone.NewClient(cxone.Config{URLTemplate: "http://x/"}); err == nil {
		t.Error("template without {region} accepted")
	}
	if _, err := cxone.NewClient(cxone.Config{JWKSURL: "ftp://x", Verify: "maybe"}); err == nil || !strings.Contains(err.Error(), "verify mode") || !strings.Contains(err.Error(), "JWKS URL") {
		t.Errorf("bad config error = %v, want both problems", err)
	}

	e := newEnv(t)
	ctx := context.Background()
	ten, admin, _, _ := e.people("na1", 0)
	basic, _ := e.sim.BasicToken("na1", ten.ID, admin.ID)
	_, err = e.client.ExchangeBasicToken(ctx, "zz1", basic)
	if !errors.Is(err, cxone.ErrUnknownRegion) {
		t.Errorf("unknown region: %v", err)
	}
	for _, bad := range []string{"", "not-a-jwt", "a.b", "a.b.c.d", "ey$.x.y"} {
		_, err := e.client.ExchangeBasicToken(ctx, "na1", secret.New(bad))
		kindOf(t, err, cxone.BadRequest)
	}
	_, err = e.client.GetKey(ctx, "na1", secret.New("x"), strings.Repeat("A", 257))
	kindOf(t, err, cxone.BadRequest)
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("local refusals sent %d requests", n)
	}
	// A basic token pasted with whitespace and a "Bearer " prefix works.
	tok, err := e.client.ExchangeBasicToken(ctx, "na1", secret.New("  Bearer "+basic.Reveal()+"\n"))
	if err != nil || tok.Identity.UserID != admin.ID {
		t.Fatalf("trimmed basic token: %v", err)
	}
	// The basic token is single-use.
	_, err = e.client.ExchangeBasicToken(ctx, "na1", basic)
	if ce := kindOf(t, err, cxone.Unauthorized); ce.Message != "The token is invalid, expired or already used" || ce.Attempts != 1 {
		t.Errorf("reused basic token: %+v", ce)
	}
}

func TestLimitsAndConflicts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(o *cxonesim.Options, _ *cxone.Config) {
		o.Variants = cxonesim.Variants{KeyLimit: 2, RejectActiveDelete: true}
	})
	ten, admin, _, _ := e.people("na1", 0)
	tok := e.login("na1", ten.ID, admin.ID)
	_, err := e.client.CreateKey(ctx, "na1", tok.Access, ten.ID, admin.ID)
	if ce := kindOf(t, err, cxone.BadRequest); ce.Message != "The user has reached the maximum number of access keys" {
		t.Errorf("key limit: %+v", ce)
	}
	err = e.client.DeleteKey(ctx, "na1", tok.Access, ten.Keys[0].ID)
	if ce := kindOf(t, err, cxone.Conflict); ce.Status != 409 || ce.Message != "Deactivate the access key before deleting it" {
		t.Errorf("active delete: %+v", ce)
	}
	if err := e.client.DeleteKey(ctx, "na1", tok.Access, ten.Keys[1].ID); err != nil {
		t.Errorf("inactive delete: %v", err)
	}
}

func TestStrictAccept(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/na1/access-key-management/v1/access-keys", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 100)
	n, _ := resp.Body.Read(buf)
	if resp.StatusCode != 200 || string(buf[:n]) != "No known way to render data" {
		t.Errorf("no Accept: %d %q", resp.StatusCode, buf[:n])
	}
}

func TestTenantIsolationAndPrivileges(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, aAdmin, aUser, aViewer := e.people("na1", 0)
	b, bAdmin, bUser, _ := e.people("na1", 1)
	adminTok := e.login("na1", a.ID, aAdmin.ID).Access
	userTok := e.login("na1", a.ID, aUser.ID).Access
	viewerTok := e.login("na1", a.ID, aViewer.ID).Access
	bKey, aAdminKey, aUserKey := b.Keys[0], a.Keys[0], a.Keys[2]
	if aUserKey.UserID != aUser.ID || aAdminKey.UserID != aAdmin.ID {
		t.Fatal("seed order changed")
	}
	check := func(name string, err error, want cxone.ErrorKind) {
		t.Helper()
		t.Run(name, func(t *testing.T) { kindOf(t, err, want) })
	}
	_, err := e.client.ListKeys(ctx, "na1", adminTok, bAdmin.ID)
	check("admin lists another tenant's user: 404", err, cxone.NotFound)
	_, err = e.client.GetKey(ctx, "na1", adminTok, bKey.ID)
	check("admin reads another tenant's key: 404", err, cxone.NotFound)
	check("admin patches another tenant's key: 404", e.client.SetActive(ctx, "na1", adminTok, bKey.ID, "", "", false), cxone.NotFound)
	check("admin patches naming another tenant: 403", e.client.SetActive(ctx, "na1", adminTok, bKey.ID, b.ID, bKey.UserID, false), cxone.Forbidden)
	check("admin deletes another tenant's key: 404", e.client.DeleteKey(ctx, "na1", adminTok, bKey.ID), cxone.NotFound)
	_, err = e.client.CreateKey(ctx, "na1", adminTok, b.ID, bUser.ID)
	check("admin creates in another tenant: 403", err, cxone.Forbidden)
	_, err = e.client.CreateKey(ctx, "na1", adminTok, a.ID, bUser.ID)
	check("admin creates for another tenant's user: 404", err, cxone.NotFound)
	_, err = e.client.ListKeys(ctx, "au1", adminTok, "")
	check("bearer of another area: 401", err, cxone.Unauthorized)

	_, err = e.client.ListKeys(ctx, "na1", userTok, "")
	check("My Access Key user lists the tenant: 403", err, cxone.Forbidden)
	_, err = e.client.ListKeys(ctx, "na1", userTok, aAdmin.ID)
	check("My Access Key user lists another's keys: 403", err, cxone.Forbidden)
	_, err = e.client.GetKey(ctx, "na1", userTok, aAdminKey.ID)
	check("My Access Key user reads another's key: 403", err, cxone.Forbidden)
	check("My Access Key user patches another's key: 403", e.client.SetActive(ctx, "na1", userTok, aAdminKey.ID, a.ID, aAdmin.ID, false), cxone.Forbidden)
	check("My Access Key user deletes another's key: 403", e.client.DeleteKey(ctx, "na1", userTok, aAdminKey.ID), cxone.Forbidden)
	_, err = e.client.CreateKey(ctx, "na1", userTok, a.ID, aAdmin.ID)
	check("My Access Key user creates for another: 403", err, cxone.Forbidden)
	_, err = e.client.ListKeys(ctx, "na1", viewerTok, aViewer.ID)
	check("user without either privilege lists own keys: 403", err, cxone.Forbidden)
	_, err = e.client.ListKeys(ctx, "na1", secret.New(""), aAdmin.ID)
	check("no bearer: 401", err, cxone.Unauthorized)

	// What the My Access Key user may do.
	own, err := e.client.ListKeys(ctx, "na1", userTok, aUser.ID)
	if err != nil || len(own.Keys) != 1 || own.Keys[0].ID != aUserKey.ID {
		t.Fatalf("own list = %+v, %v", own, err)
	}
	k, err := e.client.CreateKey(ctx, "na1", userTok, a.ID, aUser.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.SetActive(ctx, "na1", userTok, k.ID, a.ID, aUser.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteKey(ctx, "na1", userTok, k.ID); err != nil {
		t.Fatal(err)
	}
	// The admin may act for the user (Access Key privilege).
	if err := e.client.SetActive(ctx, "na1", adminTok, aUserKey.ID, a.ID, aUser.ID, false); err != nil {
		t.Fatal(err)
	}
	// Tenant B is untouched.
	after, _ := e.sim.Tenant("na1", b.ID)
	if len(after.Keys) != len(b.Keys) || after.Keys[0].Active != bKey.Active {
		t.Errorf("tenant B changed: %+v", after.Keys)
	}
}
