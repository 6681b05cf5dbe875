package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/web"
)

// statusOf maps each domain error kind to its HTTP status. An upstream fault
// is 502/503/504, never 500: 500 means a bug in Keyport.
var statusOf = map[kp.Kind]int{
	kp.Invalid:         http.StatusUnprocessableEntity,
	kp.Unauthorized:    http.StatusUnauthorized,
	kp.Forbidden:       http.StatusForbidden,
	kp.NotFound:        http.StatusNotFound,
	kp.Conflict:        http.StatusConflict,
	kp.RateLimited:     http.StatusTooManyRequests,
	kp.Upstream:        http.StatusBadGateway,
	kp.Unavailable:     http.StatusServiceUnavailable,
	kp.UpstreamTimeout: http.StatusGatewayTimeout,
	kp.Unsettled:       http.StatusBadGateway,
	kp.Malformed:       http.StatusBadRequest,
}

var friendly = map[int]string{
	http.StatusNotFound:              "There is no page at this address.",
	http.StatusMethodNotAllowed:      "This page does not accept that kind of request.",
	http.StatusRequestEntityTooLarge: "The form you sent is larger than Keyport accepts.",
	http.StatusForbidden:             "You are not allowed to do that.",
	http.StatusServiceUnavailable:    "Keyport cannot serve this request right now. Try again in a moment.",
	http.StatusTooManyRequests:       "Too many requests. Wait a moment and try again.",
}

// handleError is the one place errors become responses. Known kinds show
// their own message; anything else shows "Internal error" and the request
// id, and the chain goes to the log.
func (h *Handlers) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	// The request's own context may already be cancelled (a deadline, a
	// closed tab); the error page is still owed to whoever is listening.
	ctx := context.WithoutCancel(c.Request().Context())
	c.SetRequest(c.Request().WithContext(ctx))
	status, msg := http.StatusInternalServerError, "Internal error. Nothing was changed by this error page; the request id below helps us find what happened."
	var ke *kp.Error
	var he *echo.HTTPError
	var se interface{ SQLState() string }
	if !errors.As(err, &ke) && errors.As(err, &se) {
		// A statement error no service wrapped: its SQLSTATE still says
		// whose fault it is (a refused value is not an outage).
		err = kp.StoreError(err, "Keyport cannot reach its database right now. Try again in a moment.")
	}
	switch {
	case errors.As(err, &ke) && statusOf[ke.Kind] != 0:
		status, msg = statusOf[ke.Kind], ke.Message
	case errors.As(err, &he):
		status = he.Code
		msg = friendly[status]
		if msg == "" {
			msg = http.StatusText(status)
		}
	case errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusGatewayTimeout, "The request took too long and was stopped."
	}
	if status >= 500 {
		h.Log.ErrorContext(ctx, "request failed", "route", c.Path(), "status", status, "err", err)
	}
	view := web.ErrorView{Status: status, Title: http.StatusText(status), Message: msg, RequestID: logging.RequestID(ctx)}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if rerr := h.render(c, status, web.ErrorPage(h.page(c, http.StatusText(status)), view)); rerr != nil {
		h.Log.ErrorContext(ctx, "render error page", "err", rerr)
		_ = c.String(status, msg+" (request id "+view.RequestID+")")
	}
}
