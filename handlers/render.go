package handlers

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/web"
)

// render writes page into a buffer first, so that a failed render becomes an
// error page instead of half a page, then saves the request's sessions
// (before any byte of the response) and writes it.
func (h *Handlers) render(c echo.Context, status int, page templ.Component) error {
	var buf bytes.Buffer
	if err := page.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render %T: %w", page, err)
	}
	if err := h.saveSessions(c); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// renderStream writes page straight into the response (through templ's
// own buffer, no copy of the whole page): for pages whose view model is
// complete before the first byte, like the keys page, where a failed render
// can only be a failed write to the client. The sessions are saved first,
// as render does; a failure mid-page aborts the connection, so a browser
// never shows half a page as whole.
func (h *Handlers) renderStream(c echo.Context, status int, page templ.Component) error {
	if err := h.saveSessions(c); err != nil {
		return err
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	res.WriteHeader(status)
	if err := page.Render(c.Request().Context(), res); err != nil {
		h.Log.ErrorContext(c.Request().Context(), "page render failed mid-stream", "page", fmt.Sprintf("%T", page), "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// page fills the layout's view model for the current request.
func (h *Handlers) page(c echo.Context, title string) web.Page {
	return web.Page{
		Title:     title,
		Version:   h.Version,
		RequestID: logging.RequestID(c.Request().Context()),
		Assets:    h.Assets,
		Nav:       []web.NavItem{{Label: "Connect", Href: "/connect", Current: c.Path() == "/connect"}},
	}
}
