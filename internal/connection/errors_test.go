package connection_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
)

func TestUpstreamErrorKeepsCXonesWordsUnderKeyportsKind(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantKind kp.Kind
		wantMsg  string
	}{
		{"a refusal with CXone's message", &cxone.Error{Kind: cxone.Forbidden, Status: 403, Message: "missing Access Key"},
			kp.Forbidden, `CXone says you are not allowed to do that (the "My Access Key" or "Access Key" privilege is missing). CXone said (HTTP 403): missing Access Key`},
		{"a refusal without a message", &cxone.Error{Kind: cxone.Conflict, Status: 409},
			kp.Conflict, "CXone refused the change because of a conflict."},
		{"a local refusal has no status", &cxone.Error{Kind: cxone.BadRequest, Message: "malformed id"},
			kp.Invalid, "CXone refused the request. CXone said: malformed id"},
		{"a lost answer", fmt.Errorf("create: %w", &cxone.Error{Kind: cxone.OutcomeUnknown}),
			kp.Unsettled, "CXone's answer was lost, so Keyport cannot tell whether it happened."},
		{"a timeout", &cxone.Error{Kind: cxone.Timeout}, kp.UpstreamTimeout, "CXone did not answer in time."},
		{"no CXone error at all", errors.New("dial tcp: refused"), kp.Unavailable, "Keyport could not list keys: CXone could not be reached."},
		{"an unknown area", fmt.Errorf("%w %q", cxone.ErrUnknownRegion, "xx9"), kp.Invalid, "That is not a CXone area Keyport knows."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := connection.UpstreamError(tc.err, "list keys")
			if kp.KindOf(got) != tc.wantKind || kp.MessageOf(got) != tc.wantMsg {
				t.Errorf("UpstreamError = %v %q; want %v %q", kp.KindOf(got), kp.MessageOf(got), tc.wantKind, tc.wantMsg)
			}
			if !errors.Is(got, tc.err) {
				t.Error("the cause is not kept")
			}
		})
	}
	keyport := kp.Errorf(kp.Conflict, "already said")
	if got := connection.UpstreamError(fmt.Errorf("wrapped: %w", keyport), "x"); kp.MessageOf(got) != "already said" {
		t.Errorf("a Keyport error was reworded: %q", kp.MessageOf(got))
	}
	if connection.UpstreamError(nil, "x") != nil {
		t.Error("UpstreamError(nil) is not nil")
	}
}

func TestFailureIsUnknownOnlyWhenTheCallMayHaveHappened(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *cxone.Error
		want audit.Result
	}{
		{"a refusal", &cxone.Error{Kind: cxone.Forbidden, Status: 403, Message: "no", CorrelationID: "c-1"},
			audit.Result{Outcome: kp.OutcomeFailure, UpstreamStatus: 403, Details: &audit.Details{CorrelationID: "c-1"}}},
		{"a lost answer", &cxone.Error{Kind: cxone.OutcomeUnknown, Status: 502},
			audit.Result{Outcome: kp.OutcomeUnknown, UpstreamStatus: 502}},
		{"a timeout", &cxone.Error{Kind: cxone.Timeout}, audit.Result{Outcome: kp.OutcomeUnknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := connection.Failure(tc.err)
			if got.Outcome != tc.want.Outcome || got.UpstreamStatus != tc.want.UpstreamStatus ||
				got.Message != kp.MessageOf(connection.UpstreamError(tc.err, "call CXone")) {
				t.Errorf("Failure = %+v; want %+v", got, tc.want)
			}
			if (got.Details == nil) != (tc.want.Details == nil) || got.Details != nil && got.Details.CorrelationID != tc.want.Details.CorrelationID {
				t.Errorf("Failure details = %+v; want %+v", got.Details, tc.want.Details)
			}
		})
	}
}
