package audit_test

import (
	"context"
	"slices"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// An intent and its outcome are one action, listed once with the result;
// an intent without an outcome is listed as pending; single events (a
// denial, a read) are actions of their own; reads are left out unless
// asked for; an outcome filter matches actions by their result.
func TestActionsGroupIntentAndOutcome(t *testing.T) {
	pool := pgtest.NewPool(t)
	w := audit.NewWriter(pool, testKeys(t), quiet())
	r := audit.NewReader(pool, w, nil, quiet())
	ctx := context.Background()
	create := adminEvent(kp.KeyCreate)
	if err := w.Do(ctx, create, func(context.Context) (audit.Result, error) {
		return audit.Result{TargetKeyID: "KEY-NEW"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	del := adminEvent(kp.KeyDelete)
	del.TargetKeyID = "KEY-NEW"
	_ = w.Do(ctx, del, func(context.Context) (audit.Result, error) {
		return audit.Result{UpstreamStatus: 409}, kp.Errorf(kp.Conflict, "Deactivate the key first.")
	})
	w.Note(ctx, adminEvent(kp.KeyDeactivate), audit.Result{Outcome: kp.OutcomeDenied, Message: "not yours"})
	if err := w.Record(ctx, adminEvent(kp.KeyList), audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	open, err := w.Intent(ctx, adminEvent(kp.KeyActivate))
	if err != nil {
		t.Fatal(err)
	}

	list := func(q audit.ActionQuery) []string {
		t.Helper()
		q.Limit = 50
		p, err := r.TenantActions(ctx, "na1", "tenant-a", q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range p.Actions {
			got = append(got, string(a.Event.Action)+":"+string(a.Event.Outcome)+":"+a.Event.TargetKeyID)
			if a.StartedAt.After(a.Event.OccurredAt) {
				t.Errorf("%s started after its result", a.Event.Action)
			}
		}
		return got
	}
	want := []string{"key.activate:intent:", "key.deactivate:denied:", "key.delete:failure:KEY-NEW", "key.create:success:KEY-NEW"}
	if got := list(audit.ActionQuery{}); !equal(got, want) {
		t.Fatalf("actions %v\nwant %v", got, want)
	}
	withReads := list(audit.ActionQuery{Reads: true})
	if len(withReads) != 5 || withReads[1] != "key.list:success:" {
		t.Fatalf("with reads %v", withReads)
	}
	if got := list(audit.ActionQuery{Filter: kp.AuditFilter{Outcome: kp.OutcomeFailure}}); !equal(got, []string{"key.delete:failure:KEY-NEW"}) {
		t.Fatalf("failures %v", got)
	}
	if got := list(audit.ActionQuery{Filter: kp.AuditFilter{Outcome: kp.OutcomeIntent}}); !equal(got, []string{"key.activate:intent:"}) {
		t.Fatalf("pending %v", got)
	}
	// A create's key is on its outcome only: the key filter finds the action.
	if got := list(audit.ActionQuery{Filter: kp.AuditFilter{KeyID: "KEY-NEW"}}); !equal(got, want[2:]) {
		t.Fatalf("key %v", got)
	}
	if got := list(audit.ActionQuery{Filter: kp.AuditFilter{Action: kp.KeyList}}); !equal(got, []string{"key.list:success:"}) {
		t.Fatalf("an action filter naming a read shows reads: %v", got)
	}
	// Once its outcome arrives, the pending action is one row with its result.
	w.Outcome(ctx, open, adminEvent(kp.KeyActivate), audit.Result{Outcome: kp.OutcomeUnknown})
	if got := list(audit.ActionQuery{}); len(got) != 4 || got[0] != "key.activate:unknown:" {
		t.Fatalf("after the outcome %v", got)
	}
	// Another tenant sees none of it.
	p, err := r.TenantActions(ctx, "na1", "tenant-b", audit.ActionQuery{Limit: 50})
	if err != nil || len(p.Actions) != 0 {
		t.Fatalf("tenant-b: %v %v", p.Actions, err)
	}
}

// Paging over actions: every action once, in order, both ways.
func TestActionPagesCoverEveryActionOnce(t *testing.T) {
	pool := pgtest.NewPool(t)
	w := audit.NewWriter(pool, testKeys(t), quiet())
	r := audit.NewReader(pool, w, nil, quiet())
	ctx := context.Background()
	for range 23 {
		if err := w.Do(ctx, adminEvent(kp.KeyVerify), func(context.Context) (audit.Result, error) { return audit.Result{}, nil }); err != nil {
			t.Fatal(err)
		}
		w.Note(ctx, adminEvent(kp.KeyDelete), audit.Result{Outcome: kp.OutcomeDenied})
	}
	var ids []int64
	q := audit.ActionQuery{Limit: 10}
	for pages := 0; ; pages++ {
		p, err := r.TenantActions(ctx, "na1", "tenant-a", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Actions {
			ids = append(ids, a.Event.ID)
		}
		if p.Older == 0 {
			break
		}
		if pages > 10 {
			t.Fatal("endless pages")
		}
		q.Before = p.Older
	}
	if len(ids) != 46 {
		t.Fatalf("%d actions, want 46", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("not newest first at %d: %v", i, ids)
		}
	}
	// The newer page of the second page is the first page.
	p2, err := r.TenantActions(ctx, "na1", "tenant-a", audit.ActionQuery{Limit: 10, Before: ids[9]})
	if err != nil || p2.Newer == 0 {
		t.Fatalf("page 2: %+v %v", p2, err)
	}
	p1, err := r.TenantActions(ctx, "na1", "tenant-a", audit.ActionQuery{Limit: 10, After: p2.Newer})
	if err != nil || len(p1.Actions) != 10 || p1.Actions[0].Event.ID != ids[0] || p1.Newer != 0 || p1.Older != ids[9] {
		t.Fatalf("back to page 1: %+v %v", p1, err)
	}
}

func equal(a, b []string) bool { return slices.Equal(a, b) }
