package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

// currentConnKey is the session value naming the connection pages act on.
const currentConnKey = "conn"

// adminCtx is what an admin page knows about its requester.
type adminCtx struct {
	sess  *sessions.Session
	req   connection.Request
	conns []connection.Connection
	cur   *connection.Connection
}

func (h *Handlers) adminContext(c echo.Context) (*adminCtx, error) {
	c.SetRequest(c.Request().WithContext(connection.Preloaded(c.Request().Context())))
	sess, err := h.adminSession(c)
	if err != nil {
		return nil, err
	}
	a := &adminCtx{sess: sess}
	a.fillRequest(c)
	if a.conns, err = h.Conns.List(c.Request().Context(), a.req.SessionHash); err != nil {
		return nil, err
	}
	want, _ := sess.Values[currentConnKey].(string)
	for i := range a.conns {
		if a.conns[i].ID == want {
			a.cur = &a.conns[i]
		}
	}
	if a.cur == nil && len(a.conns) > 0 {
		a.cur = &a.conns[len(a.conns)-1]
	}
	return a, nil
}

func (a *adminCtx) fillRequest(c echo.Context) {
	a.req = connection.Request{Session: session.ID(a.sess), SessionHash: session.IDHash(a.sess),
		ClientIP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// adminPage fills the layout for an admin page: identity, switcher,
// flashes, navigation.
func (h *Handlers) adminPage(c echo.Context, a *adminCtx, title string) web.Page {
	p := h.page(c, title)
	path := c.Path()
	p.Nav = []web.NavItem{
		{Label: "Keys", Href: "/keys", Current: path == "/keys"},
		{Label: "Key history", Href: "/keys/activity", Current: path == "/keys/activity"},
		{Label: "Connect", Href: "/connect", Current: path == "/connect"},
	}
	if a == nil {
		return p
	}
	for _, f := range session.TakeFlashes(a.sess) {
		p.Flashes = append(p.Flashes, web.Flash{Kind: f.Kind, Message: f.Message})
	}
	if a.cur != nil {
		p.Identity = a.cur.Label()
	}
	for _, cn := range a.conns {
		p.Connections = append(p.Connections, web.ConnOption{ID: cn.ID, Label: cn.Label(), Current: a.cur != nil && cn.ID == a.cur.ID, Expired: cn.Expired})
	}
	p.SignedIn = len(a.conns) > 0
	p.SignOutURL = "/logout"
	return p
}

// withConn runs fn for a request that has a current, live connection;
// otherwise it sends the user to /connect, keeping the page they were on.
// A connection that expires during fn does the same.
func (h *Handlers) withConn(fn func(c echo.Context, a *adminCtx) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		a, err := h.adminContext(c)
		if err != nil {
			return err
		}
		back := backTo(c)
		if a.cur == nil {
			session.AddFlash(a.sess, "error", "Connect to CXone first: paste a basic token from the Generate Key page.")
			return h.redirect(c, "/connect?next="+url.QueryEscape(back))
		}
		if a.cur.Expired {
			session.AddFlash(a.sess, "error", "Your connection to "+a.cur.Label()+" has expired. Paste a new basic token to continue.")
			return h.redirect(c, "/connect?region="+url.QueryEscape(string(a.cur.Region))+"&next="+url.QueryEscape(back))
		}
		err = fn(c, a)
		if errors.Is(err, connection.ErrExpired) {
			session.AddFlash(a.sess, "error", kp.MessageOf(err))
			return h.redirect(c, "/connect?region="+url.QueryEscape(string(a.cur.Region))+"&next="+url.QueryEscape(back))
		}
		return err
	}
}

// backTo is the page to return to after reconnecting: this page for a GET,
// the keys page after a form post.
func backTo(c echo.Context) string {
	if c.Request().Method == http.MethodGet {
		return c.Request().URL.RequestURI()
	}
	return "/keys"
}

// safeNext accepts only a local path, so ?next= cannot send a user away.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/keys"
	}
	return next
}

// statusFor is the status the error handler would use for err, for forms
// that are re-rendered with their error instead of an error page.
func statusFor(err error) int {
	if s, ok := statusOf[kp.KindOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// formError is the message a re-rendered form shows; unknown errors go to
// the error page instead.
func formError(err error) (string, bool) {
	var ke *kp.Error
	if errors.As(err, &ke) && statusOf[ke.Kind] != 0 {
		return ke.Message, true
	}
	return "", false
}
