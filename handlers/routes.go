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
	h.adminRoutes(e)
	h.auditRoutes(e)
}

// adminRoutes registers the tenant administrators' routes.
func (h *Handlers) adminRoutes(e *echo.Echo) {
	limit := h.rateLimit()
	e.GET("/connect", h.connectForm)
	e.POST("/connect", h.connect, limit...)
	e.POST("/connect/access-key", h.connectAccessKey, limit...)
	e.POST("/connections/:id/use", h.useConnection)
	e.POST("/connections/:id/disconnect", h.disconnect)
	e.POST("/logout", h.logout)

	e.GET("/keys", h.withConn(h.keysList))
	e.POST("/keys", h.withConn(h.keysCreate), limit...)
	e.GET("/keys/created/:token", h.withConn(h.keysCreated))
	e.GET("/keys/created/:token/env", h.withConn(h.keysCreatedEnv))
	e.POST("/keys/created/:token/verify", h.withConn(h.keysCreatedVerify))
	e.GET("/keys/lookup", h.withConn(h.keyLookupForm))
	e.POST("/keys/lookup", h.withConn(h.keyLookup), limit...)
	e.GET("/keys/activity", h.withConn(h.keyActivity))
	for _, op := range []string{"deactivate", "activate", "delete"} {
		e.GET("/keys/:id/"+op, h.withConn(h.keyConfirm(op)))
	}
	e.POST("/keys/:id/deactivate", h.withConn(h.keySetActive(false)))
	e.POST("/keys/:id/activate", h.withConn(h.keySetActive(true)))
	e.POST("/keys/:id/delete", h.withConn(h.keyDelete))
	e.GET("/keys/:id/verify", h.withConn(h.keyVerifyForm))
	e.POST("/keys/:id/verify", h.withConn(h.keyVerify))
	e.GET("/keys/:id/rotate", h.withConn(h.rotateConfirm))
	e.POST("/keys/:id/rotate", h.withConn(h.rotateStart), limit...)
	e.GET("/rotations/:rid", h.withConn(h.rotationPage))
	e.POST("/rotations/:rid/deployed", h.withConn(h.rotationStep("deployed")))
	e.POST("/rotations/:rid/verify", h.withConn(h.rotationStep("verified")))
	e.POST("/rotations/:rid/deactivate-old", h.withConn(h.rotationStep("old_deactivated")))
	e.POST("/rotations/:rid/delete-old", h.withConn(h.rotationStep("done")))
}
