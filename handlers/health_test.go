package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/keyport/keyport/handlers"
	"github.com/keyport/keyport/internal/kp"
)

// /readyz answers with what Deps.Ready says, and never with the cause.
func TestReadyzReportsTheReadinessCheck(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ready      error
		wantStatus int
		wantBody   string
	}{
		{"a passing check is ready", nil, http.StatusOK, "ready\n"},
		{"a failing check shows its message", kp.Wrap(kp.Unavailable, errors.New("dial tcp CANARYCAUSE"), "database unreachable"),
			http.StatusServiceUnavailable, "database unreachable\n"},
		{"a stale schema is not ready", kp.Errorf(kp.Unavailable, "database schema out of date"),
			http.StatusServiceUnavailable, "database schema out of date\n"},
		{"an error without a message says not ready", errors.New("CANARYCAUSE"), http.StatusServiceUnavailable, "not ready\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newBareWith(t, func(d *handlers.Deps) { d.Ready = func(context.Context) error { return tc.ready } })
			rec := s.get(t, "/readyz")
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if got := rec.Body.String(); got != tc.wantBody {
				t.Errorf("body = %q, want %q", got, tc.wantBody)
			}
			if tc.ready != nil && !strings.Contains(s.log.String(), tc.ready.Error()) {
				t.Errorf("the failed check %q was not logged:\n%s", tc.ready, s.log)
			}
		})
	}
}
