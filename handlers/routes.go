package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/static"
)

// routes registers every route in one place, so a test can walk the table
// (to prove each state-changing route is CSRF-protected, each parameter is
// checked by the input boundary, each private page is uncached). Path
// parameters are named for their kind (see pathParams).
func (h *Handlers) routes(e *echo.Echo) {
	h.get(e, "/", h.home)
	h.get(e, "/healthz", h.healthz)
	h.get(e, "/readyz", h.readyz)
	h.get(e, "/metrics", echo.WrapHandler(promhttp.HandlerFor(h.Gatherer, promhttp.HandlerOpts{})))
	h.get(e, static.Prefix+"*", echo.WrapHandler(h.Assets.Handler()))
	h.adminRoutes(e)
	h.auditRoutes(e)
}

// get registers a GET route and its HEAD twin, as net/http's conventions
// expect (the server sends the headers and drops the body).
func (h *Handlers) get(e *echo.Echo, path string, fn echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	e.HEAD(path, fn, m...)
	return e.GET(path, fn, m...)
}

// form marks a route whose handler re-renders its own form when the input
// boundary refuses a value (it calls inputError), keeping what else was typed.
func (h *Handlers) form(r *echo.Route) {
	h.forms[r.Method+" "+r.Path] = true
	if r.Method == http.MethodGet {
		h.forms[http.MethodHead+" "+r.Path] = true
	}
}

// adminRoutes registers the tenant administrators' routes.
func (h *Handlers) adminRoutes(e *echo.Echo) {
	limit := h.rateLimit()
	h.get(e, "/connect", h.connectForm)
	h.form(e.POST("/connect", h.connect, limit...))
	h.form(e.POST("/connect/access-key", h.connectAccessKey, limit...))
	e.POST("/connections/:conn/use", h.useConnection)
	e.POST("/connections/:conn/disconnect", h.disconnect)
	e.POST("/logout", h.logout)

	h.get(e, "/keys", h.withConn(h.keysList))
	h.form(e.POST("/keys", h.withConn(h.keysCreate), limit...))
	h.get(e, "/keys/lookup", h.withConn(h.keyLookupForm))
	h.form(e.POST("/keys/lookup", h.withConn(h.keyLookup), limit...))
	h.get(e, "/keys/activity", h.withConn(h.keyActivity))
	h.get(e, "/keys/:key", h.withConn(h.keyDetail))
	for _, op := range []string{"deactivate", "activate", "delete"} {
		h.get(e, "/keys/:key/"+op, h.withConn(h.keyConfirm(op)))
	}
	e.POST("/keys/:key/deactivate", h.withConn(h.keySetActive(false)))
	e.POST("/keys/:key/activate", h.withConn(h.keySetActive(true)))
	e.POST("/keys/:key/delete", h.withConn(h.keyDelete))
	h.get(e, "/keys/:key/verify", h.withConn(h.keyVerifyForm))
	h.form(e.POST("/keys/:key/verify", h.withConn(h.keyVerify)))
	e.POST("/keys/:key/env", h.withConn(h.keyEnv))
	h.get(e, "/keys/:key/rotate", h.withConn(h.rotateConfirm))
	e.POST("/keys/:key/rotate", h.withConn(h.rotateStart), limit...)
	h.get(e, "/rotations/:rotation", h.withConn(h.rotationPage))
	e.POST("/rotations/:rotation/deployed", h.withConn(h.rotationStep(keys.StepDeployed)))
	e.POST("/rotations/:rotation/verify", h.withConn(h.rotationStep(keys.StepVerified)))
	e.POST("/rotations/:rotation/deactivate-old", h.withConn(h.rotationStep(keys.StepOldDeactivated)))
	e.POST("/rotations/:rotation/delete-old", h.withConn(h.rotationStep(keys.StepDone)))
}
