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

// leakSession is what a session of TestNoCredentialLeaks handled: real
// credentials of one admin of na1, and the canaries to search for.
type leakSession struct {
	ten      cxonesim.Tenant
	admin    cxonesim.User
	basic    secret.Secret
	tok      *cxone.Tokens
	created  *cxone.CreatedKey
	kt       *cxone.Tokens
	list     *cxone.KeyList
	canaries map[string]string
}

// fakeBasic is a canary basic token the client is handed but CXone never saw.
const fakeBasic = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJjYW5hcnkiOiJiYXNpYyJ9.Q0FOQVJZLWJhc2lj"

// TestNoCredentialLeaks collects every token and secret a session handles,
// provokes failures on every path, and then searches the client's and the
// simulator's logs, every error string and every printed client value.
func TestNoCredentialLeaks(t *testing.T) {
	e := newEnv(t, func(_ *cxonesim.Options, c *cxone.Config) { c.CallTimeout = 300 * time.Millisecond })
	s := startLeakSession(t, e)
	errs := provokeFailures(e, s)
	ts := cxone.NewTokenSource(e.client, "na1", s.tok, nil)

	var out strings.Builder
	out.WriteString(e.logs.String())
	printErrors(t, &out, errs)
	values := []any{s.tok, *s.tok, s.created, *s.created, s.kt, s.list, *s.list, s.tok.Identity, e.client, ts, s.basic, e.sim.Requests(), e.sim.Tenants()}
	printValues(&out, values)
	checkCanaries(t, out.String(), s.canaries)
}

// startLeakSession logs in, creates a key and gets a token with it, and
// collects every credential seen on the way, plus canaries CXone never saw.
func startLeakSession(t *testing.T, e *env) *leakSession {
	t.Helper()
	ctx := context.Background()
	s := &leakSession{}
	s.ten, s.admin, _, _ = e.people("na1", 0)
	s.basic, _ = e.sim.BasicToken("na1", s.ten.ID, s.admin.ID)
	var err error
	if s.tok, err = e.client.ExchangeBasicToken(ctx, "na1", s.basic); err != nil {
		t.Fatal(err)
	}
	if s.created, err = e.client.CreateKey(ctx, "na1", s.tok.Access, s.ten.ID, s.admin.ID); err != nil {
		t.Fatal(err)
	}
	if s.kt, err = e.client.TokenFromAccessKey(ctx, "na1", s.created.ID, s.created.Secret); err != nil {
		t.Fatal(err)
	}
	s.list, _ = e.client.ListKeys(ctx, "na1", s.tok.Access, "")
	s.canaries = map[string]string{"basic": s.basic.Reveal(), "bearer": s.tok.Access.Reveal(), "refresh": s.tok.Refresh.Reveal(),
		"key secret": s.created.Secret.Reveal(), "key bearer": s.kt.Access.Reveal(), "key refresh": s.kt.Refresh.Reveal(), "key id token": s.kt.ID.Reveal()}
	// Canary values the client is handed but CXone never saw.
	s.canaries["fake basic"] = fakeBasic
	s.canaries["fake secret"] = "CANARYSECRETCANARYSECRETCANARYSECRETCANARYSECRET7777===="
	return s
}

// provokeFailures makes every kind of call fail in every way, with real and
// canary credentials, and returns the errors in order.
func provokeFailures(e *env, s *leakSession) []error {
	ctx := context.Background()
	var errs []error
	collect := func(_ any, err error) { errs = append(errs, err) }
	collect(e.client.ExchangeBasicToken(ctx, "na1", secret.New(fakeBasic)))
	collect(e.client.ExchangeBasicToken(ctx, "na1", secret.New("not a jwt "+fakeBasic)))
	collect(e.client.TokenFromAccessKey(ctx, "na1", s.created.ID, secret.New(s.canaries["fake secret"])))
	collect(e.client.Refresh(ctx, "na1", s.basic)) // already used
	for _, f := range []cxonesim.Fault{
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.CommitThenGarbage},
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.DropAfterCommit},
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.Slow, Delay: time.Second},
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ErrorShape, Message: "echo " + s.tok.Access.Reveal(), Shape: cxonesim.ShapeOAuth},
		{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ErrorShape, Message: "echo " + s.canaries["fake secret"], Shape: cxonesim.ShapeHeaderOnly},
	} {
		e.sim.Inject(f)
		collect(e.newClient().CreateKey(ctx, "na1", s.tok.Access, s.ten.ID, s.admin.ID))
	}
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointToken, Mode: cxonesim.HTML5xx, Count: 3})
	collect(e.client.TokenFromAccessKey(ctx, "na1", s.created.ID, s.created.Secret))
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointRefresh, Mode: cxonesim.DropBeforeCommit, Count: 3})
	collect(e.newClient().Refresh(ctx, "na1", s.tok.Refresh))
	return errs
}

// printErrors prints every error in every verb; each must be a failure.
func printErrors(t *testing.T, out *strings.Builder, errs []error) {
	t.Helper()
	for _, err := range errs {
		if err == nil {
			t.Fatal("a provoked failure succeeded")
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			fmt.Fprintf(out, verb+"\n", err)
		}
		fmt.Fprintln(out, err.Error())
	}
}

// printValues prints every value in every verb and as JSON.
func printValues(out *strings.Builder, values []any) {
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			fmt.Fprintf(out, verb+"\n", v)
		}
		if b, err := json.Marshal(v); err == nil {
			out.Write(b)
		}
	}
}

// checkCanaries fails if any canary, or its middle third, is in text.
func checkCanaries(t *testing.T, text string, canaries map[string]string) {
	t.Helper()
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
