package session

// Whose sessions: a person lists and ends their own, an operator someone's
// (ASVS 7.4.5, 7.5.2). The owner is kept in the clear beside the sealed
// values (sessions.owner); where the session was signed in from stays sealed.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// Session values the owner's list shows. OwnerKey is also written to the
// row's owner column on every save.
const (
	OwnerKey     = "owner"
	ClientIPKey  = "client_ip"  // the client address at sign-in
	UserAgentKey = "user_agent" // the browser at sign-in, shortened
)

func ownerOf(sess *sessions.Session) string {
	o, _ := sess.Values[OwnerKey].(string)
	return o
}

// SetOwner marks sess as owner's, signed in from r's client (ip as the
// portal decided it).
func SetOwner(sess *sessions.Session, owner, ip string, r *http.Request) {
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	sess.Values[OwnerKey], sess.Values[ClientIPKey], sess.Values[UserAgentKey] = owner, ip, ua
}

// Info is one live session of an owner.
type Info struct {
	// Handle names the session for End: the id's SHA-256 (what the database
	// keys it by), base64url. It cannot be turned into a cookie.
	Handle     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ClientIP   string
	UserAgent  string
	Current    bool // the session of the request that asked
}

// Of returns owner's live sessions, newest first; current marks the
// asking request's session (nil: none).
func (s *Store) Of(ctx context.Context, owner string, current *sessions.Session) ([]Info, error) {
	if owner == "" {
		return nil, nil
	}
	rows, err := db.New(s.pool).SessionsOf(ctx, string(s.o.Kind), owner, s.o.Now(), s.o.Idle)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot reach its database right now. Try again in a moment.")
	}
	cur := ""
	if current != nil && current.ID != "" {
		cur = base64.RawURLEncoding.EncodeToString(hashID(current.ID))
	}
	out := make([]Info, 0, len(rows))
	for _, r := range rows {
		in := Info{Handle: base64.RawURLEncoding.EncodeToString(r.IDHash), CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt}
		in.Current = in.Handle == cur
		if plain, err := s.sealer.Open(r.Data, r.IDHash); err == nil {
			var v map[string]string
			if json.Unmarshal(plain, &v) == nil {
				in.ClientIP, in.UserAgent = v[ClientIPKey], v[UserAgentKey]
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// End deletes owner's session named by handle, or every one of owner's
// sessions when handle is "". It returns how many ended; a handle that is
// not one of owner's live sessions ends none.
func (s *Store) End(ctx context.Context, owner, handle string) (int64, error) {
	if owner == "" {
		return 0, nil
	}
	var h []byte
	if handle != "" {
		var err error
		if h, err = base64.RawURLEncoding.DecodeString(handle); err != nil || len(h) != 32 {
			return 0, nil
		}
	}
	n, err := db.New(s.pool).DeleteSessionsOf(ctx, string(s.o.Kind), owner, h)
	if err != nil {
		return 0, kp.StoreError(err, "Keyport cannot reach its database right now. Try again in a moment.")
	}
	return n, nil
}

// BrowserSummary shortens a user agent to what a person recognises: the
// browser's own product token and the platform in its first parentheses.
func BrowserSummary(ua string) string {
	if ua == "" {
		return "unknown"
	}
	platform := ""
	if i := strings.IndexByte(ua, '('); i >= 0 {
		if j := strings.IndexByte(ua[i:], ')'); j > 0 {
			platform = strings.SplitN(ua[i+1:i+j], ";", 2)[0]
		}
	}
	fields := strings.Fields(ua)
	product := fields[len(fields)-1]
	for _, f := range fields {
		for _, b := range []string{"Firefox/", "Edg/", "Chrome/"} {
			if strings.HasPrefix(f, b) {
				product = f
			}
		}
	}
	if platform == "" {
		return product
	}
	return product + " on " + platform
}
