package handlers

import (
	"net/http"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/session"
)

const loadedSessionsKey = "keyport.sessions"

type loadedSession struct {
	store *session.Store
	sess  *sessions.Session
}

// loadSession returns the request's session from store (loading it once)
// and remembers it so the response saves it.
func (h *Handlers) loadSession(c echo.Context, store *session.Store) (*sessions.Session, error) {
	sess, err := store.Load(c.Request())
	if err != nil {
		return nil, err
	}
	loaded, _ := c.Get(loadedSessionsKey).([]loadedSession)
	for _, l := range loaded {
		if l.sess == sess {
			return sess, nil
		}
	}
	c.Set(loadedSessionsKey, append(loaded, loadedSession{store, sess}))
	return sess, nil
}

// adminSession is the tenant administrator's session.
func (h *Handlers) adminSession(c echo.Context) (*sessions.Session, error) {
	return h.loadSession(c, h.AdminSessions)
}

// reviewerSession is the security reviewer's session.
func (h *Handlers) reviewerSession(c echo.Context) (*sessions.Session, error) {
	return h.loadSession(c, h.ReviewerSessions)
}

// saveSessions writes every session the request touched, before the
// response is written. A new session with nothing in it is not stored, so
// anonymous visitors create no rows. Saving also marks activity (idle timeout).
func (h *Handlers) saveSessions(c echo.Context) error {
	loaded, _ := c.Get(loadedSessionsKey).([]loadedSession)
	for _, l := range loaded {
		if l.sess.IsNew && len(l.sess.Values) == 0 && l.sess.ID == "" {
			continue
		}
		if err := l.store.Save(c.Request(), c.Response(), l.sess); err != nil {
			return err
		}
	}
	c.Set(loadedSessionsKey, nil)
	return nil
}

// redirect saves sessions and answers 303 See Other, so a reload never
// re-posts a form.
func (h *Handlers) redirect(c echo.Context, to string) error {
	if err := h.saveSessions(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}
