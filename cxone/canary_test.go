package cxone_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/secret"
)

// TestNoCredentialLeaks collects every token and secret a session handles,
// provokes failures on every path, and then searches the client's and the
// simulator's logs, every error string and every printed client value.
func TestNoCredentialLeaks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(_ *cxonesim.Options, c *cxone.Config) { c.CallTimeout = 300 * time.Millisecond })
	ten, admin, _, _ := e.people("na1", 0)
	basic, _ := e.sim.BasicToken("na1", ten.ID, admin.ID)
	tok, err := e.client.ExchangeBasicToken(ctx, "na1", basic)
	if err != nil {
		t.Fatal(err)
	}
	created, err := e.client.CreateKey(ctx, "na1", tok.Access, ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := e.client.TokenFromAccessKey(ctx, "na1", created.ID, created.Secret)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := e.client.ListKeys(ctx, "na1", tok.Access, "")
	canaries := map[string]string{"basic": basic.Reveal(), "bearer": tok.Access.Reveal(), "refresh": tok.Refresh.Reveal(),
		"key secret": created.Secret.Reveal(), "key bearer": kt.Access.Reveal(), "key refresh": kt.Refresh.Reveal(), "key id token": kt.ID.Reveal()}
	// Canary values the client is handed but CXone never saw.
	fakeBasic := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJjYW5hcnkiOiJiYXNpYyJ9.Q0FOQVJZLWJhc2lj"
	canaries["fake basic"] = fakeBasic
	canaries["fake secret"] = "CANARYSECRETCANARYSECRETCANARYSECRETCANARYSECRET7777===="

	var errs []error
	collect := func(_ any, err error) { errs = append(errs, err) }
	collect(e.client.ExchangeBasicToken(ctx, "na1", secret.New(fakeBasic)))
	collect(e.client.ExchangeBasicToken(ctx, "na1", secret.New("not a jwt "+fakeBasic)))
	collect(e.client.TokenFromAccessKey(ctx, "na1", created.ID, secret.New(canaries["fake secret"])))
	collect(e.client.Refresh(ctx, "na1", basic)) // already used
	for _, f := range []cxonesim.Fault{
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.CommitThenGarbage},
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.DropAfterCommit},
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.Slow, Delay: time.Second},
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ErrorShape, Message: "echo " + tok.Access.Reveal(), Shape: cxonesim.ShapeOAuth},
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ErrorShape, Message: "echo " + canaries["fake secret"], Shape: cxonesim.ShapeHeaderOnly},
	} {
		e.sim.Inject(f)
		collect(e.newClient().CreateKey(ctx, "na1", tok.Access, ten.ID, admin.ID))
	}
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointToken, Mode: cxonesim.HTML5xx, Count: 3})
	collect(e.client.TokenFromAccessKey(ctx, "na1", created.ID, created.Secret))
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointRefresh, Mode: cxonesim.DropBeforeCommit, Count: 3})
	collect(e.newClient().Refresh(ctx, "na1", tok.Refresh))
	ts := cxone.NewTokenSource(e.client, "na1", tok, nil)

	var out strings.Builder
	out.WriteString(e.logs.String())
	for _, err := range errs {
		if err == nil {
			t.Fatal("a provoked failure succeeded")
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			fmt.Fprintf(&out, verb+"\n", err)
		}
		fmt.Fprintln(&out, err.Error())
	}
	values := []any{tok, *tok, created, *created, kt, list, *list, tok.Identity, e.client, ts, basic, e.sim.Requests(), e.sim.Tenants()}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		if b, err := json.Marshal(v); err == nil {
			out.Write(b)
		}
	}
	text := out.String()
	for name, c := range canaries {
		if c == "" {
			t.Fatalf("canary %s is empty", name)
		}
		if strings.Contains(text, c) {
			i := strings.Index(text, c)
			t.Errorf("%s leaked near: %q", name, text[max(0, i-200):i])
		}
		// A third of a token is already too much.
		if len(c) > 60 && strings.Contains(text, c[len(c)/3:2*len(c)/3]) {
			t.Errorf("part of %s leaked", name)
		}
	}
	if !strings.Contains(text, "[redacted]") {
		t.Error("expected redacted values in the output")
	}
}
