package connection

import (
	"errors"
	"strconv"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// UpstreamError turns a CXone client error into a Keyport error kind with a
// sentence for the user that keeps CXone's own message. An upstream fault
// is 502/503/504, never 500.
func UpstreamError(err error, what string) error {
	if err == nil {
		return nil
	}
	var ke *kp.Error
	if errors.As(err, &ke) {
		return err
	}
	if errors.Is(err, cxone.ErrUnknownRegion) {
		return &kp.Error{Kind: kp.Invalid, Message: "That is not a CXone area Keyport knows.", Err: err}
	}
	var ce *cxone.Error
	if !errors.As(err, &ce) {
		return &kp.Error{Kind: kp.Unavailable, Message: "Keyport could not " + what + ": CXone could not be reached.", Err: err}
	}
	kinds := map[cxone.ErrorKind]struct {
		k   kp.Kind
		msg string
	}{
		cxone.BadRequest:         {kp.Invalid, "CXone refused the request"},
		cxone.Unauthorized:       {kp.Unauthorized, "CXone did not accept the credentials"},
		cxone.Forbidden:          {kp.Forbidden, "CXone says you are not allowed to do that (the \"My Access Key\" or \"Access Key\" privilege is missing)"},
		cxone.NotFound:           {kp.NotFound, "CXone has no such key"},
		cxone.Conflict:           {kp.Conflict, "CXone refused the change because of a conflict"},
		cxone.RateLimited:        {kp.RateLimited, "CXone is rate-limiting requests; wait a moment and try again"},
		cxone.Unavailable:        {kp.Unavailable, "CXone is unavailable right now; nothing was changed"},
		cxone.Timeout:            {kp.UpstreamTimeout, "CXone did not answer in time"},
		cxone.OutcomeUnknown:     {kp.Unsettled, "CXone's answer was lost, so Keyport cannot tell whether it happened"},
		cxone.UnexpectedResponse: {kp.Upstream, "CXone answered in a way Keyport does not understand"},
	}
	m, ok := kinds[ce.Kind]
	if !ok {
		m.k, m.msg = kp.Upstream, "CXone returned an unexpected error"
	}
	return &kp.Error{Kind: m.k, Message: WithUpstream(m.msg+".", err), Err: err}
}

// WithUpstream appends CXone's own message (and status), when it has one,
// to a sentence for the user.
func WithUpstream(msg string, err error) string {
	var ce *cxone.Error
	if errors.As(err, &ce) && ce.Message != "" {
		status := ""
		if ce.Status != 0 {
			status = " (HTTP " + strconv.Itoa(ce.Status) + ")"
		}
		return msg + " CXone said" + status + ": " + ce.Message
	}
	return msg
}

func upstreamStatus(err error) int {
	var ce *cxone.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}

// Failure is the audit result of a failed upstream call: unknown when the
// call may have happened (a lost answer, a timeout), failure otherwise.
func Failure(err error) audit.Result {
	o := kp.OutcomeFailure
	if cxone.KindOf(err) == cxone.OutcomeUnknown || cxone.KindOf(err) == cxone.Timeout {
		o = kp.OutcomeUnknown
	}
	r := audit.Result{Outcome: o, UpstreamStatus: upstreamStatus(err), Message: kp.MessageOf(UpstreamError(err, "call CXone"))}
	var ce *cxone.Error
	if errors.As(err, &ce) && ce.CorrelationID != "" {
		r.Details = &audit.Details{CorrelationID: ce.CorrelationID}
	}
	return r
}
