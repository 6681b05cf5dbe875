package audit

import "github.com/keyport/keyport/internal/kp"

// KeyFacts are what a key's events say about its life. The events are the
// successful ones; nil means the trail does not record it.
type KeyFacts struct {
	Created     *kp.AuditEvent // the first successful create
	Verified    *kp.AuditEvent // the last successful verify
	Deactivated *kp.AuditEvent // the last successful deactivation
	Activated   *kp.AuditEvent // the last successful reactivation
	Deleted     *kp.AuditEvent // the last successful delete
	Lookups     int            // lookups that ended (any outcome)
	Problems    int            // events that failed, were denied or ended unknown
}

// keyFacts reads a key's events, oldest first. The pointers point into evs.
func keyFacts(evs []kp.AuditEvent) KeyFacts {
	var f KeyFacts
	for i := range evs {
		e := &evs[i]
		if e.Outcome == kp.OutcomeFailure || e.Outcome == kp.OutcomeUnknown || e.Outcome == kp.OutcomeDenied {
			f.Problems++
		}
		if e.Action == kp.KeyLookup && e.Outcome != kp.OutcomeIntent {
			f.Lookups++
		}
		if e.Outcome != kp.OutcomeSuccess {
			continue
		}
		switch e.Action {
		case kp.KeyCreate:
			if f.Created == nil {
				f.Created = e
			}
		case kp.KeyVerify:
			f.Verified = e
		case kp.KeyDeactivate:
			f.Deactivated = e
		case kp.KeyActivate:
			f.Activated = e
		case kp.KeyDelete:
			f.Deleted = e
		}
	}
	return f
}
