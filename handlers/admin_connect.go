package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/keyport/keyport/internal/kp"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/secret"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

func (h *Handlers) connectView(a *adminCtx, region, next string) web.ConnectView {
	v := web.ConnectView{Region: strings.ToLower(strings.TrimSpace(region)), Next: next}
	if v.Region == "" {
		v.Region = "na1"
	}
	for _, ar := range h.Conns.Areas() {
		label := string(ar.Code)
		if ar.Name != "" {
			label += " — " + ar.Name
		}
		v.Areas = append(v.Areas, web.AreaOption{Code: string(ar.Code), Label: label, URL: ar.URL})
	}
	for _, cn := range a.conns {
		v.Connections = append(v.Connections, web.ConnOption{ID: cn.ID, Label: cn.Label(), Current: a.cur != nil && cn.ID == a.cur.ID, Expired: cn.Expired})
	}
	return v
}

func (h *Handlers) connectForm(c echo.Context) error {
	a, err := h.adminContext(c)
	if err != nil {
		return err
	}
	v := h.connectView(a, c.QueryParam("region"), c.QueryParam("next"))
	return h.render(c, http.StatusOK, web.ConnectPage(h.adminPage(c, a, "Connect"), v))
}

// connect exchanges a pasted basic token (or an access key) for a
// connection, gives the session a new id, and goes to the page the user
// was on.
func (h *Handlers) connect(c echo.Context) error {
	return h.doConnect(c, false)
}

func (h *Handlers) connectAccessKey(c echo.Context) error {
	return h.doConnect(c, true)
}

func (h *Handlers) doConnect(c echo.Context, withKey bool) error {
	a, err := h.adminContext(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	next := c.FormValue("next")
	v := h.connectView(a, c.FormValue("region"), next)
	fail := func(err error) error {
		msg, ok := formError(err)
		if !ok {
			return err
		}
		if withKey {
			v.AccessError = msg
		} else {
			v.Error = msg
		}
		var wa *connection.WrongArea
		if errors.As(err, &wa) {
			v.RetryArea = string(wa.TokenArea)
			v.RetryURL = "/connect?" + url.Values{"region": {v.RetryArea}, "next": {next}}.Encode()
		}
		return h.render(c, statusFor(err), web.ConnectPage(h.adminPage(c, a, "Connect"), v))
	}
	if err := inputError(c); err != nil {
		return fail(err)
	}
	region, err := h.Conns.ParseRegion(c.FormValue("region"))
	if err != nil {
		return fail(err)
	}
	// The session row must exist before its connection can reference it.
	if err := h.AdminSessions.Persist(c.Request(), a.sess); err != nil {
		return err
	}
	a.fillRequest(c)
	var conn *connection.Connection
	if withKey {
		conn, err = h.Conns.ConnectWithAccessKey(ctx, a.req, region, c.FormValue("access_key_id"), secret.New(c.FormValue("access_key_secret")))
	} else {
		conn, err = h.Conns.Connect(ctx, a.req, region, secret.New(c.FormValue("basic_token")))
	}
	if err != nil {
		return fail(err)
	}
	a.sess.Values[currentConnKey] = conn.ID
	// The identity bar says who; the flash says only what happened.
	if conn.NoKeyPrivileges {
		session.AddFlash(a.sess, "warning", "Connected to "+conn.TenantName+" ("+string(conn.Region)+"), but your CXone role has neither "+
			"the “My Access Key” nor the “Access Key” privilege, so Keyport can neither list nor create keys for you. "+
			"Ask a CXone administrator to add “My Access Key” (your own keys) or “Access Key” (everyone's keys) to your role, then connect again with a new basic token.")
	} else {
		session.AddFlash(a.sess, "success", "Connected to "+conn.TenantName+" ("+string(conn.Region)+").")
	}
	// A new session id on every connect: a cookie planted before sign-in is
	// worthless after it.
	if err := h.AdminSessions.Rotate(c.Request(), c.Response(), a.sess); err != nil {
		return err
	}
	return h.redirect(c, safeNext(next))
}

// useConnection makes one of the session's connections current.
func (h *Handlers) useConnection(c echo.Context) error {
	a, conn, err := h.namedConnection(c)
	if err != nil {
		return err
	}
	a.sess.Values[currentConnKey] = conn.ID
	session.AddFlash(a.sess, "success", "Switched to "+conn.TenantName+" ("+string(conn.Region)+").")
	return h.redirect(c, "/keys")
}

// namedConnection is the admin's context and the session's connection the
// path names (another session's id is not found).
func (h *Handlers) namedConnection(c echo.Context) (*adminCtx, *connection.Connection, error) {
	a, err := h.adminContext(c)
	if err != nil {
		return nil, nil, err
	}
	conn, err := h.Conns.Get(c.Request().Context(), a.req.SessionHash, c.Param("conn"))
	return a, conn, err
}

func (h *Handlers) disconnect(c echo.Context) error {
	a, conn, err := h.namedConnection(c)
	if err != nil {
		return err
	}
	if err := h.Conns.Disconnect(c.Request().Context(), connection.Caller{Req: a.req, Conn: conn}); err != nil {
		return err
	}
	if cur, _ := a.sess.Values[currentConnKey].(string); cur == conn.ID {
		delete(a.sess.Values, currentConnKey)
	}
	session.AddFlash(a.sess, "success", "Disconnected from "+conn.Label()+".")
	return h.redirect(c, "/connect")
}

// logout ends the session: its row and its connections (with their tokens)
// are deleted, so a replayed cookie is dead.
func (h *Handlers) logout(c echo.Context) error {
	a, err := h.adminContext(c)
	if err != nil {
		return err
	}
	for i := range a.conns {
		ev := connection.Caller{Req: a.req, Conn: &a.conns[i]}.Event(kp.Disconnect, "")
		ev.Details.Step = "logout"
		h.Audit.Note(c.Request().Context(), ev, audit.Result{Outcome: kp.OutcomeSuccess})
	}
	if err := h.AdminSessions.Destroy(c.Request(), c.Response(), a.sess); err != nil {
		return err
	}
	c.Set(loadedSessionsKey, nil)
	return c.Redirect(http.StatusSeeOther, "/")
}
