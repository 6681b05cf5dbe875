package handlers

import (
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyport/keyport/static"
)

// routes registers every route in one place, so a test can walk the table
// (for example to prove each state-changing route is CSRF-protected).
func (h *Handlers) routes(e *echo.Echo) {
	e.GET("/", h.home)
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(h.Gatherer, promhttp.HandlerOpts{})))
	e.GET(static.Prefix+"*", echo.WrapHandler(h.Assets.Handler()))
	h.auditRoutes(e)
}
