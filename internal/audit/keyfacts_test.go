package audit

import (
	"testing"

	"github.com/keyport/keyport/internal/kp"
)

func TestKeyFactsReadAKeysLifeFromItsEvents(t *testing.T) {
	var evs []kp.AuditEvent
	add := func(a kp.Action, o kp.Outcome) {
		evs = append(evs, kp.AuditEvent{ID: int64(len(evs) + 1), Action: a, Outcome: o})
	}
	add(kp.KeyCreate, kp.OutcomeIntent)
	add(kp.KeyCreate, kp.OutcomeSuccess)     // 2: the create
	add(kp.KeyCreate, kp.OutcomeSuccess)     // 3: a later success does not replace the first
	add(kp.KeyVerify, kp.OutcomeSuccess)     // 4
	add(kp.KeyVerify, kp.OutcomeFailure)     // 5: a problem, not a verification
	add(kp.KeyLookup, kp.OutcomeIntent)      // 6: not yet a lookup
	add(kp.KeyLookup, kp.OutcomeDenied)      // 7: a lookup and a problem
	add(kp.KeyLookup, kp.OutcomeSuccess)     // 8: a lookup
	add(kp.KeyDeactivate, kp.OutcomeUnknown) // 9: a problem
	add(kp.KeyDeactivate, kp.OutcomeSuccess) // 10
	add(kp.KeyActivate, kp.OutcomeSuccess)   // 11
	add(kp.KeyDeactivate, kp.OutcomeSuccess) // 12: the last deactivation
	add(kp.KeyDelete, kp.OutcomeSuccess)     // 13

	f := keyFacts(evs)
	id := func(e *kp.AuditEvent) int64 {
		if e == nil {
			return 0
		}
		return e.ID
	}
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"created is the first successful create", id(f.Created), 2},
		{"verified is the last successful verify", id(f.Verified), 4},
		{"deactivated is the last successful deactivation", id(f.Deactivated), 12},
		{"activated is the last successful reactivation", id(f.Activated), 11},
		{"deleted is the successful delete", id(f.Deleted), 13},
		{"lookups count every lookup that ended", int64(f.Lookups), 2},
		{"problems count failures, denials and unknowns", int64(f.Problems), 3},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if f := keyFacts(nil); f != (KeyFacts{}) {
		t.Errorf("no events: got %+v, want nothing recorded", f)
	}
}
