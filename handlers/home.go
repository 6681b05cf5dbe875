package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/web"
)

func (h *Handlers) home(c echo.Context) error {
	return h.render(c, http.StatusOK, web.Home(h.page(c, "")))
}
