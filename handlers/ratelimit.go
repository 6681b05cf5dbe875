package handlers

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/labstack/echo/v4"
)

// rateLimit bounds connects, creates, look-ups and rotations per client IP
// (as the IPExtractor decided) and per admin session cookie. The buckets
// live in PostgreSQL (internal/ratelimit), so every instance shares them.
func (h *Handlers) rateLimit() []echo.MiddlewareFunc {
	return []echo.MiddlewareFunc{func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			keys := []string{"ip:" + c.RealIP()}
			if ck, err := c.Cookie(h.AdminSessions.Name()); err == nil {
				sum := sha256.Sum256([]byte(ck.Value))
				keys = append(keys, "session:"+hex.EncodeToString(sum[:]))
			}
			if err := h.Limiter.Allow(c.Request().Context(), keys...); err != nil {
				return err
			}
			return next(c)
		}
	}}
}
