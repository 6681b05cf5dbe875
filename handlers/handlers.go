// Package handlers translates HTTP to calls on Keyport's services and back:
// parse and validate, call one service method, render a templ component or
// redirect. It owns the router, the middleware chain and the one error
// handler. It holds no SQL and no CXone protocol.
package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/metrics"
	"github.com/keyport/keyport/internal/notify"
	"github.com/keyport/keyport/internal/oidc"
	"github.com/keyport/keyport/internal/ratelimit"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/static"
)

// Deps is everything the HTTP layer needs, built by main (or a test) and
// passed in: there is no package state.
type Deps struct {
	Log              *slog.Logger
	Assets           *static.Assets
	Version          string
	TrustedProxies   []*net.IPNet
	Metrics          *metrics.HTTP
	Gatherer         prometheus.Gatherer
	Audit            *audit.Writer
	AdminSessions    *session.Store
	ReviewerSessions *session.Store
	Conns            *connection.Service
	Keys             *keys.Service
	Reviewers        *reviewer.Service
	// Trail is the audit trail's read side, for the reviewers' pages.
	Trail *audit.Reader
	// SinkHealth reads the audit sinks' cursors for the Integrity page
	// (nil: the page says none is configured).
	SinkHealth func(context.Context) ([]auditsink.Health, error)
	// NotifyLog reads the latest notifications delivered, for the
	// Integrity page (nil: none configured).
	NotifyLog func(context.Context) ([]notify.Delivery, error)
	// Ready reports whether the portal can serve (GET /readyz): nil, or a
	// *kp.Error whose message says what is missing.
	Ready func(context.Context) error
	// Limiter bounds connects, creates, look-ups and rotations per client IP
	// and per session, shared by every instance.
	Limiter *ratelimit.Limiter
	// ExportLimiter bounds each reviewer's exports (audit CSV and JSON
	// Lines, the credential report), shared by every instance.
	ExportLimiter *ratelimit.Limiter
	// OIDC is the reviewers' sign-in with the company's identity provider
	// (issue 16); nil when it is not configured.
	OIDC *oidc.Client
}

// Handlers holds the dependencies shared by every route.
type Handlers struct {
	Deps
	// forms are the routes that re-render their form on refused input
	// ("METHOD /path"), filled by routes.
	forms map[string]bool
}

// New builds the router with its middleware and every route.
func New(d Deps) *echo.Echo {
	h := &Handlers{Deps: d, forms: map[string]bool{}}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard) // echo's own logger is unused; slog logs everything
	e.IPExtractor = ipExtractor(d.TrustedProxies)
	e.HTTPErrorHandler = h.handleError
	h.middleware(e)
	h.routes(e)
	mustCheckEveryParam(e)
	return e
}

// mustCheckEveryParam refuses to build a router with a path parameter the
// input boundary has no kind for: a new route cannot skip the boundary.
func mustCheckEveryParam(e *echo.Echo) {
	for _, r := range e.Routes() {
		for _, seg := range strings.Split(r.Path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				if _, known := pathParams[name]; !known {
					panic(fmt.Sprintf("route %s %s: path parameter %q has no input kind in pathParams", r.Method, r.Path, name))
				}
			}
		}
	}
}
