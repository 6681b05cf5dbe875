package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/keyport/keyport/internal/kp"
)

// defaultRateLimit is connects/creates per minute per client IP and per
// session: plenty for a person, little for a script guessing tokens.
const defaultRateLimit = 20

// rateLimit returns the limiters for connect and create: one keyed by the
// client IP (as the IPExtractor decided), one by the session cookie.
func (h *Handlers) rateLimit() []echo.MiddlewareFunc {
	perMin := h.RateLimit
	if perMin <= 0 {
		perMin = defaultRateLimit
	}
	store := func() middleware.RateLimiterStore {
		return middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(float64(perMin) / 60), Burst: perMin / 2, ExpiresIn: 10 * time.Minute})
	}
	deny := func(echo.Context, string, error) error {
		return kp.Errorf(kp.RateLimited, "Too many attempts. Wait a minute and try again.")
	}
	fail := func(_ echo.Context, err error) error {
		return kp.Wrap(kp.RateLimited, err, "Too many attempts. Wait a minute and try again.")
	}
	byIP := middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{Store: store(),
		IdentifierExtractor: func(c echo.Context) (string, error) { return "ip:" + c.RealIP(), nil },
		DenyHandler:         deny, ErrorHandler: fail})
	bySession := middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{Store: store(),
		IdentifierExtractor: func(c echo.Context) (string, error) {
			if ck, err := c.Cookie(h.AdminSessions.Name()); err == nil {
				sum := sha256.Sum256([]byte(ck.Value))
				return "session:" + hex.EncodeToString(sum[:8]), nil
			}
			return "ip:" + c.RealIP(), nil
		},
		DenyHandler: deny, ErrorHandler: fail})
	return []echo.MiddlewareFunc{byIP, bySession}
}
