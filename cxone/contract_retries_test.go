package cxone_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/secret"
)

// retryFixture is the shared state of TestRetriesOfIdempotentCalls: its
// subtests run in order against one simulator and one admin session.
type retryFixture struct {
	ctx   context.Context
	e     *env
	ten   cxonesim.Tenant
	admin cxonesim.User
	tok   *cxone.Tokens
}

// list lists the admin's keys with a new client and returns the list, the
// calls the simulator saw and the backoff waits of this call alone.
func (r *retryFixture) list() (*cxone.KeyList, int, []time.Duration, error) {
	before, sl := r.e.sim.Calls(cxonesim.EndpointList), len(r.e.sleeps.got())
	l, err := r.e.newClient().ListKeys(r.ctx, "na1", r.tok.Access, r.admin.ID)
	return l, r.e.sim.Calls(cxonesim.EndpointList) - before, r.e.sleeps.got()[sl:], err
}

func TestRetriesOfIdempotentCalls(t *testing.T) {
	e := newEnv(t, func(_ *cxonesim.Options, c *cxone.Config) { c.Backoff = []time.Duration{time.Second, 3 * time.Second} })
	ten, admin, _, _ := e.people("na1", 0)
	r := &retryFixture{ctx: context.Background(), e: e, ten: ten, admin: admin, tok: e.login("na1", ten.ID, admin.ID)}

	t.Run("HTML 502 three times gives up after two retries", r.html502GivesUp)
	t.Run("two 503s then success", r.two503sThenSuccess)
	t.Run("429 without Retry-After backs off", r.rateLimitBacksOff)
	t.Run("429 with Retry-After is honoured", r.retryAfterHonoured)
	t.Run("Retry-After over 30 s ends the retries", r.retryAfterTooLong)
	t.Run("a dropped GET is retried", r.droppedGetRetried)
	t.Run("a PATCH dropped after commit is retried and succeeds", r.droppedPatchRetried)
	t.Run("a DELETE dropped after commit reports not found on the retry", r.droppedDeleteRetried)
	t.Run("a slow call times out and is not retried", r.slowCallTimesOut)
	t.Run("the context's cancellation stops the backoff", r.cancelStopsBackoff)
}

func (r *retryFixture) html502GivesUp(t *testing.T) {
	r.e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Count: 5})
	_, calls, waits, err := r.list()
	ce := kindOf(t, err, cxone.Unavailable)
	if calls != 3 || ce.Attempts != 3 || ce.Status != 502 || ce.Message != "upstream returned HTML (status 502)" {
		t.Errorf("calls %d, error %+v", calls, ce)
	}
	if len(waits) != 2 || waits[0] < time.Second || waits[0] > 1500*time.Millisecond || waits[1] < 3*time.Second || waits[1] > 4500*time.Millisecond {
		t.Errorf("backoff waits = %v, want 1 s and 3 s plus up to 50%% jitter", waits)
	}
	r.e.sim.ClearFaults()
}

func (r *retryFixture) two503sThenSuccess(t *testing.T) {
	r.e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Status: 503, Count: 2})
	l, calls, _, err := r.list()
	if err != nil || calls != 3 || len(l.Keys) != 2 {
		t.Errorf("list = %v, %v after %d calls", l, err, calls)
	}
}

func (r *retryFixture) rateLimitBacksOff(t *testing.T) {
	r.e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.RateLimit, Count: 3})
	_, calls, waits, err := r.list()
	ce := kindOf(t, err, cxone.RateLimited)
	if calls != 3 || ce.RetryAfter != 0 || len(waits) != 2 || waits[0] < time.Second {
		t.Errorf("calls %d waits %v error %+v", calls, waits, ce)
	}
}

func (r *retryFixture) retryAfterHonoured(t *testing.T) {
	r.e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.RateLimit, RetryAfter: 7})
	_, calls, waits, err := r.list()
	if err != nil || calls != 2 || len(waits) != 1 || waits[0] != 7*time.Second {
		t.Errorf("err %v calls %d waits %v; want success after one 7 s wait", err, calls, waits)
	}
}

func (r *retryFixture) retryAfterTooLong(t *testing.T) {
	r.e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.RateLimit, RetryAfter: 31})
	_, calls, waits, err := r.list()
	ce := kindOf(t, err, cxone.RateLimited)
	if calls != 1 || len(waits) != 0 || ce.RetryAfter != 31 {
		t.Errorf("calls %d waits %v error %+v", calls, waits, ce)
	}
}

func (r *retryFixture) droppedGetRetried(t *testing.T) {
	r.e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.DropBeforeCommit, Count: 3})
	_, calls, _, err := r.list()
	if ce := kindOf(t, err, cxone.Unavailable); calls != 3 || ce.Status != 0 || ce.Attempts != 3 {
		t.Errorf("calls %d error %+v", calls, ce)
	}
}

func (r *retryFixture) droppedPatchRetried(t *testing.T) {
	e, k := r.e, r.ten.Keys[0]
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointPatch, Mode: cxonesim.DropAfterCommit})
	before := e.sim.Calls(cxonesim.EndpointPatch)
	if err := e.newClient().SetActive(r.ctx, "na1", r.tok.Access, k.ID, r.ten.ID, k.UserID, false); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Calls(cxonesim.EndpointPatch) - before; n != 2 {
		t.Errorf("patch calls = %d, want 2", n)
	}
}

func (r *retryFixture) droppedDeleteRetried(t *testing.T) {
	e, k := r.e, r.ten.Keys[1]
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointDelete, Mode: cxonesim.DropAfterCommit})
	before := e.sim.Calls(cxonesim.EndpointDelete)
	err := e.newClient().DeleteKey(r.ctx, "na1", r.tok.Access, k.ID)
	if ce := kindOf(t, err, cxone.NotFound); ce.Attempts != 2 || e.sim.Calls(cxonesim.EndpointDelete)-before != 2 {
		t.Errorf("delete error %+v", ce)
	}
}

func (r *retryFixture) slowCallTimesOut(t *testing.T) {
	e := r.e
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointGet, Mode: cxonesim.Slow, Delay: 3 * time.Second})
	c := e.cfg
	c.CallTimeout = 150 * time.Millisecond
	fast, _ := cxone.NewClient(c)
	before := e.sim.Calls(cxonesim.EndpointGet)
	_, err := fast.GetKey(r.ctx, "na1", r.tok.Access, r.ten.Keys[2].ID)
	if ce := kindOf(t, err, cxone.Timeout); ce.Attempts != 1 || e.sim.Calls(cxonesim.EndpointGet)-before != 1 {
		t.Errorf("timeout error %+v", ce)
	}
}

func (r *retryFixture) cancelStopsBackoff(t *testing.T) {
	e := r.e
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.HTML5xx, Count: 3})
	c := e.cfg
	c.Sleep = nil
	c.Backoff = []time.Duration{time.Hour}
	slow, _ := cxone.NewClient(c)
	cctx, cancel := context.WithTimeout(r.ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := slow.ListKeys(cctx, "na1", r.tok.Access, r.admin.ID)
	kindOf(t, err, cxone.Unavailable)
	if time.Since(start) > 2*time.Second {
		t.Errorf("backoff ignored the context")
	}
	e.sim.ClearFaults()
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
	ts := cxone.NewTokenSource(e.client, "jp1", tok, func(_ context.Context, t *cxone.Tokens) { mu.Lock(); refreshed = append(refreshed, t); mu.Unlock() })

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
