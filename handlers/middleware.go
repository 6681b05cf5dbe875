package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
)

const (
	requestIDHeader = "X-Request-Id"
	// requestTimeout bounds a request's context: longer than one CXone call
	// with its retries, shorter than the server's write timeout.
	requestTimeout = 75 * time.Second
)

// contentSecurityPolicy allows no inline script or style and no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (h *Handlers) middleware(e *echo.Echo) {
	e.Use(
		requestID,
		h.observe, // logs and measures after the error handler has set the status
		h.recoverPanic,
		securityHeaders,
		crossOriginProtection(http.NewCrossOriginProtection()),
		boundary(h.forms),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: requestTimeout}),
	)
}

// requestID gives every request a fresh id. An incoming X-Request-Id is
// ignored: a client must not be able to forge ids in our logs and audit trail.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		c.Response().Header().Set(requestIDHeader, id)
		c.SetRequest(c.Request().WithContext(logging.WithRequestID(c.Request().Context(), id)))
		return next(c)
	}
}

// observe writes one log line and one metrics observation per request. It
// logs the route pattern, never the URI with its query, and no header or
// body, so neither credentials nor search terms reach the log.
func (h *Handlers) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err) // render the error page now, so the status below is the real one
		}
		d := time.Since(start)
		req, res := c.Request(), c.Response()
		route := c.Path()
		if route == "" || res.Status == http.StatusNotFound && route == "/*" {
			route = "unmatched"
		}
		h.Log.Log(req.Context(), logging.RequestLevelFor(h.Log, res.Status), "request",
			"method", req.Method, "route", route, "status", res.Status,
			"duration_ms", float64(d.Microseconds())/1000, "bytes_out", res.Size, "ip", c.RealIP())
		if h.Metrics != nil {
			h.Metrics.Observe(req.Method, route, res.Status, d)
		}
		return nil
	}
}

// recoverPanic turns a panic into a 500 page: the user sees the request id,
// the log gets the stack.
func (h *Handlers) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			h.Log.ErrorContext(c.Request().Context(), "panic in handler",
				"route", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errPanic
		}()
		return next(c)
	}
}

var errPanic = fmt.Errorf("handler panicked")

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		// Nothing Keyport renders may be kept by a browser or a proxy: after
		// Sign out, Back must not show the keys list again. The hashed
		// static assets override this with their own immutable caching.
		hd.Set("Cache-Control", "no-store")
		if c.Request().TLS != nil || c.Scheme() == "https" {
			hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

// ipExtractor believes X-Forwarded-For only when the direct peer is one of
// the configured proxies; with none configured it uses the peer address.
// echo's defaults would trust private ranges, which is not what we want.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// crossOriginProtection refuses state-changing requests that a browser marks
// as cross-site (Sec-Fetch-Site, or an Origin that is not this host): CSRF
// protection for every route, with no token to forget in a form.
func crossOriginProtection(cop *http.CrossOriginProtection) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return errCrossOrigin
			}
			return next(c)
		}
	}
}

var errCrossOrigin = kp.Errorf(kp.Forbidden, "This request came from another site and was refused. Use Keyport's own pages to make changes.")
