package cxone_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
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
	ctx := context.Background()
	for _, region := range e.client.Regions() {
		t.Run(string(region), func(t *testing.T) {
			ten, admin, _, _ := e.people(string(region), 0)
			tok := e.login(string(region), ten.ID, admin.ID)
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
			list, err := e.client.ListKeys(ctx, region, tok.Access, "")
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
			if err := e.client.SetActive(ctx, region, tok.Access, created.ID, ten.ID, admin.ID, false); err != nil {
				t.Fatal(err)
			}
			if got, err := e.client.GetKey(ctx, region, tok.Access, created.ID); err != nil || got.Active {
				t.Fatalf("after deactivate: %+v, %v", got, err)
			}
			_, err = e.client.TokenFromAccessKey(ctx, region, created.ID, created.Secret)
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
		})
	}
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

func TestResponseVariants(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		v     cxonesim.Variants
		check func(t *testing.T, e *env, bearer secret.Secret, tenantID, userID string)
	}{
		{"resultSet create wrapper with numbers", cxonesim.Variants{CreateWrapper: "resultSet"}, checkCreate},
		{"both create wrappers", cxonesim.Variants{CreateWrapper: "both"}, checkCreate},
		{"numbers as strings", cxonesim.Variants{NumbersAsStrings: true, CreateWrapper: "resultSet"}, func(t *testing.T, e *env, b secret.Secret, tid, uid string) {
			checkCreate(t, e, b, tid, uid)
			list, err := e.client.ListKeys(ctx, "na1", b, uid)
			if err != nil || list.TotalRecords != 3 || list.Keys[0].AgentID == "" || list.Keys[0].BillingID == "" {
				t.Fatalf("list = %+v, %v", list, err)
			}
		}},
		{"null and extra fields", cxonesim.Variants{NullFields: true, ExtraFields: true}, func(t *testing.T, e *env, b secret.Secret, tid, uid string) {
			list, err := e.client.ListKeys(ctx, "na1", b, uid)
			if err != nil {
				t.Fatal(err)
			}
			if k := list.Keys[1]; k.LastUsed != nil || k.LastUsedRaw != "" || k.Active {
				t.Errorf("never used inactive key = %+v", k)
			}
		}},
		{"naive lastUsedDate", cxonesim.Variants{LastUsedFormat: "naive"}, checkLastUsed},
		{"offset lastUsedDate", cxonesim.Variants{LastUsedFormat: "offset"}, checkLastUsed},
		{"epoch ms lastUsedDate", cxonesim.Variants{LastUsedFormat: "epochms", NumbersAsStrings: true}, checkLastUsed},
		{"absent lastUsedDate", cxonesim.Variants{LastUsedFormat: "absent"}, func(t *testing.T, e *env, b secret.Secret, tid, uid string) {
			list, err := e.client.ListKeys(ctx, "na1", b, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range list.Keys {
				if k.LastUsed != nil {
					t.Errorf("key %s has last used %v, want unknown", k.ID, k.LastUsed)
				}
			}
		}},
		{"paging with _links.next", cxonesim.Variants{PageSize: 1}, func(t *testing.T, e *env, b secret.Secret, tid, uid string) {
			before := e.sim.Calls(cxonesim.EndpointList)
			list, err := e.client.ListKeys(ctx, "na1", b, "")
			if err != nil || len(list.Keys) != 3 || list.PossiblyIncomplete {
				t.Fatalf("paged list = %+v, %v", list, err)
			}
			if n := e.sim.Calls(cxonesim.EndpointList) - before; n != 3 {
				t.Errorf("pages fetched = %d, want 3", n)
			}
		}},
		{"totalRecords larger than the items", cxonesim.Variants{TotalRecordsDelta: 2}, func(t *testing.T, e *env, b secret.Secret, tid, uid string) {
			list, err := e.client.ListKeys(ctx, "na1", b, "")
			if err != nil || len(list.Keys) != 3 || !list.PossiblyIncomplete || list.TotalRecords != 5 {
				t.Fatalf("list = %+v, %v; want 3 keys, possibly incomplete", list, err)
			}
		}},
		{"GET without resultSet", cxonesim.Variants{GetBare: true}, func(t *testing.T, e *env, b secret.Secret, tid, uid string) {
			ten, _ := e.sim.Tenant("na1", tid)
			k, err := e.client.GetKey(ctx, "na1", b, ten.Keys[0].ID)
			if err != nil || k.ID != ten.Keys[0].ID || k.UserID != uid || !k.Active {
				t.Fatalf("get = %+v, %v", k, err)
			}
		}},
		{"204 on PATCH, DELETE and an empty list", cxonesim.Variants{NoContent: true, LastUsedFormat: "epochms"}, func(t *testing.T, e *env, b secret.Secret, tid, uid string) {
			ten, _ := e.sim.Tenant("na1", tid)
			for _, k := range ten.Keys {
				if err := e.client.SetActive(ctx, "na1", b, k.ID, tid, k.UserID, false); err != nil {
					t.Fatal(err)
				}
				if err := e.client.DeleteKey(ctx, "na1", b, k.ID); err != nil {
					t.Fatal(err)
				}
			}
			list, err := e.client.ListKeys(ctx, "na1", b, "")
			if err != nil || len(list.Keys) != 0 || list.PossiblyIncomplete {
				t.Fatalf("empty list = %+v, %v", list, err)
			}
		}},
		{"camelCase token keys with string lifetimes", cxonesim.Variants{CamelTokenKeys: true, NumbersAsStrings: true, ExtraFields: true}, func(t *testing.T, e *env, b secret.Secret, tid, uid string) {
			k, err := e.client.CreateKey(ctx, "na1", b, tid, uid)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := e.client.TokenFromAccessKey(ctx, "na1", k.ID, k.Secret)
			if err != nil || tok.ID.IsZero() || tok.Refresh.IsZero() || tok.AccessExpires.Sub(e.clock.Now()) != time.Hour {
				t.Fatalf("camel tokens = %+v, %v", tok, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *cxonesim.Options, _ *cxone.Config) { o.Variants = tc.v })
			ten, admin, _, _ := e.people("na1", 0)
			tok := e.login("na1", ten.ID, admin.ID)
			tc.check(t, e, tok.Access, ten.ID, admin.ID)
		})
	}
}

func checkCreate(t *testing.T, e *env, b secret.Secret, tid, uid string) {
	t.Helper()
	k, err := e.client.CreateKey(context.Background(), "na1", b, tid, uid)
	if err != nil {
		t.Fatal(err)
	}
	if !keyFormat.MatchString(k.ID) || !keyFormat.MatchString(k.Secret.Reveal()) || !k.Active || k.TenantID != tid || k.UserID != uid {
		t.Fatalf("created = %+v", k.AccessKey)
	}
}

func checkLastUsed(t *testing.T, e *env, b secret.Secret, tid, uid string) {
	t.Helper()
	ten, _ := e.sim.Tenant("na1", tid)
	list, err := e.client.ListKeys(context.Background(), "na1", b, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range list.Keys {
		want := ten.Keys[i].LastUsed
		if (want == nil) != (k.LastUsed == nil) || (want != nil && !want.Equal(*k.LastUsed)) {
			t.Errorf("key %d last used = %v (raw %q), want %v", i, k.LastUsed, k.LastUsedRaw, want)
		}
	}
}

func TestErrorShapes(t *testing.T) {
	e := newEnv(t)
	ten, admin, _, _ := e.people("na1", 0)
	tok := e.login("na1", ten.ID, admin.ID)
	cases := []struct {
		shape  cxonesim.Shape
		status int
		kind   cxone.ErrorKind
		msg    string
	}{
		{cxonesim.ShapeOAuth, 400, cxone.BadRequest, "Simulated oauth error"},
		{cxonesim.ShapeOAuthCamel, 401, cxone.Unauthorized, "Simulated oauth_camel error"},
		{cxonesim.ShapeSpring, 403, cxone.Forbidden, "Simulated spring error"},
		{cxonesim.ShapeDetails, 404, cxone.NotFound, "Simulated details error"},
		{cxonesim.ShapeErrorsObj, 409, cxone.Conflict, "userId: Simulated errors_obj error"},
		{cxonesim.ShapeMessage, 422, cxone.BadRequest, "Simulated message error"},
		{cxonesim.ShapeMsg, 400, cxone.BadRequest, "Simulated msg error"},
		{cxonesim.ShapeDetailed, 400, cxone.BadRequest, "Simulated detailed error"},
		{cxonesim.ShapeHeaderOnly, 403, cxone.Forbidden, "Simulated header_only error"},
		{cxonesim.ShapeEmpty, 404, cxone.NotFound, "Not Found"},
		{cxonesim.ShapeEmpty, 418, cxone.UnexpectedResponse, "I'm a teapot"},
	}
	for _, tc := range cases {
		t.Run(string(tc.shape), func(t *testing.T) {
			e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.ErrorShape, Shape: tc.shape, Status: tc.status})
			before := e.sim.Calls(cxonesim.EndpointList)
			_, err := e.client.ListKeys(context.Background(), "na1", tok.Access, admin.ID)
			ce := kindOf(t, err, tc.kind)
			if ce.Status != tc.status || ce.Message != tc.msg || ce.Attempts != 1 {
				t.Errorf("error = status %d message %q attempts %d; want %d %q 1", ce.Status, ce.Message, ce.Attempts, tc.status, tc.msg)
			}
			if n := e.sim.Calls(cxonesim.EndpointList) - before; n != 1 {
				t.Errorf("calls = %d, want 1 (4xx is not retried)", n)
			}
		})
	}
}

func TestRetriesOfIdempotentCalls(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(_ *cxonesim.Options, c *cxone.Config) { c.Backoff = []time.Duration{time.Second, 3 * time.Second} })
	ten, admin, _, _ := e.people("na1", 0)
	tok := e.login("na1", ten.ID, admin.ID)
	list := func() (*cxone.KeyList, int, []time.Duration, error) {
		before, sl := e.sim.Calls(cxonesim.EndpointList), len(e.sleeps.got())
		l, err := e.newClient().ListKeys(ctx, "na1", tok.Access, admin.ID)
		return l, e.sim.Calls(cxonesim.EndpointList) - before, e.sleeps.got()[sl:], err
	}

	t.Run("HTML 502 three times gives up after two retries", func(t *testing.T) {
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Count: 5})
		_, calls, waits, err := list()
		ce := kindOf(t, err, cxone.Unavailable)
		if calls != 3 || ce.Attempts != 3 || ce.Status != 502 || ce.Message != "upstream returned HTML (status 502)" {
			t.Errorf("calls %d, error %+v", calls, ce)
		}
		if len(waits) != 2 || waits[0] < time.Second || waits[0] > 1500*time.Millisecond || waits[1] < 3*time.Second || waits[1] > 4500*time.Millisecond {
			t.Errorf("backoff waits = %v, want 1 s and 3 s plus up to 50%% jitter", waits)
		}
		e.sim.ClearFaults()
	})
	t.Run("two 503s then success", func(t *testing.T) {
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Status: 503, Count: 2})
		l, calls, _, err := list()
		if err != nil || calls != 3 || len(l.Keys) != 2 {
			t.Errorf("list = %v, %v after %d calls", l, err, calls)
		}
	})
	t.Run("429 without Retry-After backs off", func(t *testing.T) {
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.RateLimit, Count: 3})
		_, calls, waits, err := list()
		ce := kindOf(t, err, cxone.RateLimited)
		if calls != 3 || ce.RetryAfter != 0 || len(waits) != 2 || waits[0] < time.Second {
			t.Errorf("calls %d waits %v error %+v", calls, waits, ce)
		}
	})
	t.Run("429 with Retry-After is honoured", func(t *testing.T) {
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.RateLimit, RetryAfter: 7})
		_, calls, waits, err := list()
		if err != nil || calls != 2 || len(waits) != 1 || waits[0] != 7*time.Second {
			t.Errorf("err %v calls %d waits %v; want success after one 7 s wait", err, calls, waits)
		}
	})
	t.Run("Retry-After over 30 s ends the retries", func(t *testing.T) {
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.RateLimit, RetryAfter: 31})
		_, calls, waits, err := list()
		ce := kindOf(t, err, cxone.RateLimited)
		if calls != 1 || len(waits) != 0 || ce.RetryAfter != 31 {
			t.Errorf("calls %d waits %v error %+v", calls, waits, ce)
		}
	})
	t.Run("a dropped GET is retried", func(t *testing.T) {
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.DropBeforeCommit, Count: 3})
		_, calls, _, err := list()
		if ce := kindOf(t, err, cxone.Unavailable); calls != 3 || ce.Status != 0 || ce.Attempts != 3 {
			t.Errorf("calls %d error %+v", calls, ce)
		}
	})
	t.Run("a PATCH dropped after commit is retried and succeeds", func(t *testing.T) {
		k := ten.Keys[0]
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointPatch, Mode: cxonesim.DropAfterCommit})
		before := e.sim.Calls(cxonesim.EndpointPatch)
		if err := e.newClient().SetActive(ctx, "na1", tok.Access, k.ID, ten.ID, k.UserID, false); err != nil {
			t.Fatal(err)
		}
		if n := e.sim.Calls(cxonesim.EndpointPatch) - before; n != 2 {
			t.Errorf("patch calls = %d, want 2", n)
		}
	})
	t.Run("a DELETE dropped after commit reports not found on the retry", func(t *testing.T) {
		k := ten.Keys[1]
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointDelete, Mode: cxonesim.DropAfterCommit})
		before := e.sim.Calls(cxonesim.EndpointDelete)
		err := e.newClient().DeleteKey(ctx, "na1", tok.Access, k.ID)
		if ce := kindOf(t, err, cxone.NotFound); ce.Attempts != 2 || e.sim.Calls(cxonesim.EndpointDelete)-before != 2 {
			t.Errorf("delete error %+v", ce)
		}
	})
	t.Run("a slow call times out and is not retried", func(t *testing.T) {
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointGet, Mode: cxonesim.Slow, Delay: 3 * time.Second})
		c := e.cfg
		c.CallTimeout = 150 * time.Millisecond
		fast, _ := cxone.NewClient(c)
		before := e.sim.Calls(cxonesim.EndpointGet)
		_, err := fast.GetKey(ctx, "na1", tok.Access, ten.Keys[2].ID)
		if ce := kindOf(t, err, cxone.Timeout); ce.Attempts != 1 || e.sim.Calls(cxonesim.EndpointGet)-before != 1 {
			t.Errorf("timeout error %+v", ce)
		}
	})
	t.Run("the context's cancellation stops the backoff", func(t *testing.T) {
		e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Count: 3})
		c := e.cfg
		c.Sleep = nil
		c.Backoff = []time.Duration{time.Hour}
		slow, _ := cxone.NewClient(c)
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := slow.ListKeys(cctx, "na1", tok.Access, admin.ID)
		kindOf(t, err, cxone.Unavailable)
		if time.Since(start) > 2*time.Second {
			t.Errorf("backoff ignored the context")
		}
		e.sim.ClearFaults()
	})
}

// TestCreateIsNeverRetried: every lost outcome is OutcomeUnknown after
// exactly one attempt; refusals keep their kind.
func TestCreateIsNeverRetried(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		fault     cxonesim.Fault
		kind      cxone.ErrorKind
		status    int
		committed bool
	}{
		{"connection reset after the key was created", cxonesim.Fault{Mode: cxonesim.DropAfterCommit}, cxone.OutcomeUnknown, 0, true},
		{"connection reset before anything was done", cxonesim.Fault{Mode: cxonesim.DropBeforeCommit}, cxone.OutcomeUnknown, 0, false},
		{"timeout", cxonesim.Fault{Mode: cxonesim.Slow, Delay: 2 * time.Second}, cxone.OutcomeUnknown, 0, true},
		{"500 after commit", cxonesim.Fault{Mode: cxonesim.CommitThen500}, cxone.OutcomeUnknown, 500, true},
		{"truncated 201 after commit", cxonesim.Fault{Mode: cxonesim.CommitThenGarbage}, cxone.OutcomeUnknown, 201, true},
		{"HTML 201 after commit", cxonesim.Fault{Mode: cxonesim.CommitThenGarbage, HTML: true}, cxone.OutcomeUnknown, 201, true},
		{"HTML 503", cxonesim.Fault{Mode: cxonesim.HTML5xx, Status: 503}, cxone.OutcomeUnknown, 503, false},
		{"429", cxonesim.Fault{Mode: cxonesim.RateLimit, RetryAfter: 1}, cxone.RateLimited, 429, false},
		{"400 in the details shape", cxonesim.Fault{Mode: cxonesim.ErrorShape, Shape: cxonesim.ShapeDetails}, cxone.BadRequest, 400, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(_ *cxonesim.Options, c *cxone.Config) { c.CallTimeout = 300 * time.Millisecond })
			ten, admin, _, _ := e.people("eu1", 1)
			tok := e.login("eu1", ten.ID, admin.ID)
			tc.fault.Endpoint = cxonesim.EndpointCreate
			e.sim.Inject(tc.fault)
			_, err := e.client.CreateKey(ctx, "eu1", tok.Access, ten.ID, admin.ID)
			ce := kindOf(t, err, tc.kind)
			if ce.Status != tc.status || ce.Attempts != 1 {
				t.Errorf("error = %+v, want status %d after 1 attempt", ce, tc.status)
			}
			if n := e.sim.Calls(cxonesim.EndpointCreate); n != 1 {
				t.Errorf("create calls = %d, want exactly 1", n)
			}
			if len(e.sleeps.got()) != 0 {
				t.Errorf("create waited for a retry: %v", e.sleeps.got())
			}
			after, _ := e.sim.Tenant("eu1", ten.ID)
			if got := len(after.Keys) == len(ten.Keys)+1; got != tc.committed {
				t.Errorf("key committed = %v, want %v", got, tc.committed)
			}
			if tc.kind == cxone.OutcomeUnknown && !strings.Contains(ce.Message, "list the keys") {
				t.Errorf("message %q does not say how to reconcile", ce.Message)
			}
		})
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

// TestTokenSource covers expiry, single-flight refresh, refresh after a
// 401 (expire_now), rotation and the dead end that needs a new basic token.
func TestTokenSource(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(o *cxonesim.Options, _ *cxone.Config) {
		o.BearerLifetime, o.RefreshLifetime, o.RotateRefreshTokens = 60*time.Second, 10*time.Minute, true
	})
	ten, admin, _, _ := e.people("jp1", 0)
	tok := e.login("jp1", ten.ID, admin.ID)
	var mu sync.Mutex
	var refreshed []*cxone.Tokens
	ts := cxone.NewTokenSource(e.client, "jp1", tok, func(t *cxone.Tokens) { mu.Lock(); refreshed = append(refreshed, t); mu.Unlock() })

	b, err := ts.Bearer(ctx)
	if err != nil || b.Reveal() != tok.Access.Reveal() || e.sim.Calls(cxonesim.EndpointRefresh) != 1 {
		t.Fatalf("fresh bearer was refreshed: %v", err)
	}
	e.clock.Advance(61 * time.Second)
	if _, err := e.client.ListKeys(ctx, "jp1", tok.Access, admin.ID); cxone.KindOf(err) != cxone.Unauthorized {
		t.Fatalf("expired bearer: %v, want Unauthorized", err)
	}
	var wg sync.WaitGroup
	got := make([]string, 20)
	for i := range got {
		wg.Go(func() {
			b, err := ts.Bearer(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = b.Reveal()
		})
	}
	wg.Wait()
	if n := e.sim.Calls(cxonesim.EndpointRefresh); n != 2 {
		t.Errorf("refresh calls = %d, want 2 (exchange + one refresh for 20 callers)", n)
	}
	for _, g := range got {
		if g != got[0] || g == tok.Access.Reveal() {
			t.Fatal("callers got different or stale bearers")
		}
	}
	if len(refreshed) != 1 {
		t.Errorf("onRefresh called %d times", len(refreshed))
	}
	// A 401 mid-session (expire_now) refreshes once and replays.
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.ExpireNow})
	var attempts int
	err = ts.Do(ctx, func(b secret.Secret) error {
		attempts++
		_, err := e.client.ListKeys(ctx, "jp1", b, admin.ID)
		return err
	})
	if err != nil || attempts != 2 || e.sim.Calls(cxonesim.EndpointRefresh) != 3 {
		t.Errorf("Do after expire_now: err %v, attempts %d, refreshes %d", err, attempts, e.sim.Calls(cxonesim.EndpointRefresh))
	}
	// A rotated-away refresh token: the source becomes dead, no loop.
	old := ts.Tokens()
	if _, err := e.client.Refresh(ctx, "jp1", old.Refresh); err != nil {
		t.Fatal(err) // someone else used it: now it is rotated away
	}
	e.clock.Advance(2 * time.Minute)
	_, err = ts.Bearer(ctx)
	if ce := kindOf(t, err, cxone.Unauthorized); !errors.Is(err, cxone.ErrNeedBasicToken) || ce.Status != 401 {
		t.Errorf("dead refresh: %+v", ce)
	}
	calls := e.sim.Calls(cxonesim.EndpointRefresh)
	if _, err := ts.Bearer(ctx); !errors.Is(err, cxone.ErrNeedBasicToken) || e.sim.Calls(cxonesim.EndpointRefresh) != calls {
		t.Errorf("dead source tried again: %v", err)
	}
}

func TestLostExchangeAndPerCallVariant(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	ten, admin, _, _ := e.people("uk1", 0)
	basic, _ := e.sim.BasicToken("uk1", ten.ID, admin.ID)
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointRefresh, Mode: cxonesim.DropAfterCommit})
	_, err := e.newClient().ExchangeBasicToken(ctx, "uk1", basic)
	ce := kindOf(t, err, cxone.Unauthorized)
	if ce.Attempts != 2 || !strings.Contains(ce.Message, "new basic token") || e.sim.Calls(cxonesim.EndpointRefresh) != 2 {
		t.Errorf("lost exchange: %+v", ce)
	}
	tok := e.login("uk1", ten.ID, admin.ID)
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.Variant,
		Variants: &cxonesim.Variants{CreateWrapper: "resultSet", NumbersAsStrings: true}})
	k, err := e.client.CreateKey(ctx, "uk1", tok.Access, ten.ID, admin.ID)
	if err != nil || k.AgentID == "" || k.BillingID == "" {
		t.Fatalf("resultSet for one call: %+v, %v", k, err)
	}
	k, err = e.client.CreateKey(ctx, "uk1", tok.Access, ten.ID, admin.ID)
	if err != nil || k.AgentID != "" {
		t.Fatalf("the variant outlived its call: %+v, %v", k, err)
	}
}
