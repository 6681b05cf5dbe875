// Package connection holds a session's CXone connections: turning a pasted
// basic token (or an access key) into a bearer, keeping the tokens sealed in
// the database, refreshing them once per connection however many requests
// ask, and marking a connection expired when CXone will not refresh it.
// Every connect and disconnect is audited intent → outcome. It is also the
// one way other services call CXone as a connection (calls.go): a method
// per call, given a Caller, that knows which calls may be replayed after a
// 401 and that a create never is.
package connection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/seal"
	"github.com/keyport/keyport/internal/secret"
)

// Connection is one CXone identity a session acts as.
type Connection struct {
	ID              string
	Region          cxone.Region
	TenantID        string
	TenantName      string
	UserID          string
	UserName        string
	BusinessUnit    string
	Verified        bool // the bearer's signature was checked against the JWKS
	Expired         bool // CXone would not refresh it: a new basic token is needed
	CanManageOthers *bool
	AccessExpires   time.Time
	// NoKeyPrivileges is learnt at connect (not stored): CXone refused to
	// list even the user's own keys, so the role has neither "My Access
	// Key" nor "Access Key".
	NoKeyPrivileges bool
}

// Label is "user · tenant · area", shown on every page.
func (c Connection) Label() string {
	return fmt.Sprintf("%s · %s · %s", c.UserName, c.TenantName, c.Region)
}

// Request describes who is asking, for the audit trail.
type Request struct {
	Session     secret.Secret
	SessionHash []byte
	ClientIP    string
	UserAgent   string
}

// Actor and Scope turn a connection into audit fields.
func (c Connection) Actor() audit.Actor {
	return audit.Actor{Kind: kp.ActorAdmin, UserID: c.UserID, Name: c.UserName}
}

// Scope is the audit scope of an action through c by r.
func (c Connection) Scope(r Request) audit.Scope {
	return audit.Scope{TenantID: c.TenantID, TenantName: c.TenantName, Region: c.Region,
		Session: r.Session, ClientIP: r.ClientIP, UserAgent: r.UserAgent}
}

// Caller is an admin acting through one of their session's connections in
// one request: as whom Keyport calls CXone, and who did what, from where,
// for the audit trail.
type Caller struct {
	Req  Request
	Conn *Connection
}

// Event is the audit event of action by c; keyID names the key it concerns,
// or is "".
func (c Caller) Event(action kp.Action, keyID string) audit.Event {
	return audit.Event{Actor: c.Conn.Actor(), Scope: c.Conn.Scope(c.Req), Action: action, TargetKeyID: keyID}
}

// Service manages connections.
type Service struct {
	pool   *pgxpool.Pool
	cx     *cxone.Client
	audit  *audit.Writer
	sealer *seal.Sealer
	log    *slog.Logger

	mu      sync.Mutex
	sources map[string]*cxone.TokenSource // by connection id: one refresh at a time per connection
}

// New returns a Service. The newest of encryptionKeys seals the tokens at
// rest; any of them opens them.
func New(pool *pgxpool.Pool, cx *cxone.Client, w *audit.Writer, encryptionKeys keyring.Ring, log *slog.Logger) (*Service, error) {
	sealer, err := seal.New(encryptionKeys, seal.Tokens)
	if err != nil {
		return nil, err
	}
	return &Service{pool: pool, cx: cx, audit: w, sealer: sealer, log: log, sources: map[string]*cxone.TokenSource{}}, nil
}

// Regions lists the CXone areas Keyport knows.
func (s *Service) Regions() []cxone.Region { return s.cx.Regions() }

// ParseRegion validates a form's area before anything is sent.
func (s *Service) ParseRegion(v string) (cxone.Region, error) {
	r := cxone.Region(strings.ToLower(strings.TrimSpace(v)))
	if r == "" {
		return "", kp.Errorf(kp.Invalid, "Choose the CXone area (na1, au1, eu1 …) your tenant lives in.")
	}
	if _, err := s.cx.BaseURL(r); err != nil {
		return "", kp.Errorf(kp.Invalid, "%q is not a CXone area Keyport knows. Choose one of the listed areas.", string(r))
	}
	return r, nil
}

// Connect exchanges a basic token from CXone's Generate Key page for a
// bearer and stores the connection. The basic token is cleaned of what
// copying adds (CleanBasicToken), used once and never stored.
func (s *Service) Connect(ctx context.Context, req Request, region cxone.Region, basic secret.Secret) (*Connection, error) {
	basic = CleanBasicToken(basic)
	if basic.IsZero() {
		return nil, kp.Errorf(kp.Invalid, "Paste the basic token from CXone's Generate Key page.")
	}
	return s.connect(ctx, req, region, "basic token", func(ctx context.Context) (*cxone.Tokens, error) {
		return s.cx.ExchangeBasicToken(ctx, region, basic)
	}, func(ctx context.Context, err error) error {
		return s.explainBasicRefusal(ctx, req, region, basic.Reveal(), err)
	})
}

// ConnectWithAccessKey obtains a token with an existing access key.
func (s *Service) ConnectWithAccessKey(ctx context.Context, req Request, region cxone.Region, keyID string, keySecret secret.Secret) (*Connection, error) {
	keyID = strings.TrimSpace(keyID)
	if keyID == "" || keySecret.IsZero() {
		return nil, kp.Errorf(kp.Invalid, "Enter both the access key id and its secret.")
	}
	if len(keyID) > 256 {
		return nil, kp.Errorf(kp.Invalid, "That access key id is too long to be one.")
	}
	return s.connect(ctx, req, region, "access key", func(ctx context.Context) (*cxone.Tokens, error) {
		return s.TokenFromAccessKey(ctx, region, keyID, keySecret)
	}, func(_ context.Context, err error) error {
		var ce *cxone.Error
		switch {
		case errors.As(err, &ce) && ce.Status == 0 && ce.Kind == cxone.BadRequest:
			return &kp.Error{Kind: kp.Invalid, Err: err, Message: "That access key id or secret is malformed: " + ce.Message}
		case isRefusal(err):
			return &kp.Error{Kind: kp.Unauthorized, Err: err, Message: WithUpstream(
				"CXone ("+AreaLabel(region)+") rejected the access key: the id or secret is wrong, the key is inactive or deleted, or it belongs to another area.", err)}
		}
		return UpstreamError(err, "connect")
	})
}

// explainBasicRefusal says why a basic token was not exchanged, from CXone's
// answer and what the token itself says (see refusedToken).
func (s *Service) explainBasicRefusal(ctx context.Context, req Request, region cxone.Region, raw string, err error) error {
	var ce *cxone.Error
	if errors.As(err, &ce) && ce.Status == 0 && ce.Kind == cxone.BadRequest {
		return malformedToken(raw, err)
	}
	if !isRefusal(err) {
		return UpstreamError(err, "connect")
	}
	f := refusalFacts{chosen: region, now: time.Now()}
	f.chosenURL, _ = s.cx.BaseURL(region) // region was parsed against this table
	f.claims, f.readable = readClaims(raw, s.Regions())
	if f.readable && f.claims.Area == "" && f.claims.TenantID != "" {
		// A tenant lives in one area: where this session reached it before.
		conns, _ := s.List(ctx, req.SessionHash) // only a hint; a failure just leaves it out
		for _, c := range conns {
			if strings.EqualFold(c.TenantID, f.claims.TenantID) {
				f.knownArea = c.Region
			}
		}
	}
	return refusedToken(f, err)
}

func (s *Service) connect(ctx context.Context, req Request, region cxone.Region, how string,
	exchange func(context.Context) (*cxone.Tokens, error), explain func(context.Context, error) error) (*Connection, error) {
	// Who is connecting is known only after the exchange; the intent names
	// the area and session, the outcome the identity.
	ev := audit.Event{Actor: audit.Actor{Kind: kp.ActorAdmin},
		Scope:  audit.Scope{Region: region, Session: req.Session, ClientIP: req.ClientIP, UserAgent: req.UserAgent},
		Action: kp.Connect, Details: audit.Details{Step: how}}
	intent, err := s.audit.Intent(ctx, ev)
	if err != nil {
		return nil, err
	}
	tokens, err := exchange(ctx)
	if err != nil {
		kerr := explain(ctx, err)
		s.audit.Outcome(ctx, intent, ev, Failure(err))
		return nil, kerr
	}
	id := tokens.Identity
	if id.UserID == "" || id.TenantID == "" {
		err := kp.Errorf(kp.Upstream, "CXone's token does not name a user and tenant, so Keyport cannot act on it.")
		s.audit.Outcome(ctx, intent, ev, audit.Result{Outcome: kp.OutcomeFailure, Message: err.Message})
		return nil, err
	}
	conn, err := s.store(ctx, req, region, tokens)
	if err != nil {
		s.audit.Outcome(ctx, intent, ev, audit.Result{Outcome: kp.OutcomeFailure, Message: kp.MessageOf(err)})
		return nil, err
	}
	ev.Actor, ev.Scope = conn.Actor(), conn.Scope(req)
	var warnings []string
	if !id.Verified {
		warnings = append(warnings, "bearer signature not verified (no JWKS configured)")
	}
	if s.probePrivileges(ctx, Caller{Req: req, Conn: conn}); conn.NoKeyPrivileges {
		warnings = append(warnings, "the CXone role lacks the access-key privileges (listing the user's own keys was refused)")
	}
	s.audit.Outcome(ctx, intent, ev, audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Step: how, Warning: strings.Join(warnings, "; ")}})
	return conn, nil
}

// store saves a new connection with its tokens sealed.
func (s *Service) store(ctx context.Context, req Request, region cxone.Region, tokens *cxone.Tokens) (*Connection, error) {
	id := tokens.Identity
	row := &db.ConnectionRow{ID: kp.NewUUID(), SessionIDHash: req.SessionHash, Region: region, TenantID: id.TenantID,
		TenantName: firstNonEmpty(id.TenantName, id.TenantID), UserID: id.UserID, UserName: firstNonEmpty(id.DisplayName, id.UserID),
		BusinessUnit: id.BusinessUnit, IdentityVerified: id.Verified, AccessExpiresAt: tokens.AccessExpires,
		RefreshExpiresAt: timePtr(tokens.RefreshExpires), CreatedAt: time.Now()}
	// The row id is final only after the upsert; seal against it afterwards.
	row.Tokens = s.sealTokens(tokens, row.ID)
	connID, err := db.New(s.pool).UpsertConnection(ctx, row)
	if err == nil && connID != row.ID {
		err = db.New(s.pool).UpdateConnectionTokens(ctx, connID, s.sealTokens(tokens, connID), tokens.AccessExpires, timePtr(tokens.RefreshExpires))
	}
	if err != nil {
		return nil, kp.StoreError(err, "Keyport could not save the connection. Nothing was changed in CXone; try again.")
	}
	s.forget(connID)
	return &Connection{ID: connID, Region: region, TenantID: row.TenantID, TenantName: row.TenantName, UserID: row.UserID,
		UserName: row.UserName, BusinessUnit: row.BusinessUnit, Verified: id.Verified, AccessExpires: tokens.AccessExpires}, nil
}

// probePrivileges lists the user's own keys once, at connect, so that a
// user whose role has neither access-key privilege hears it now, not from a
// 403 on the keys page. Any other failure says nothing about privileges.
func (s *Service) probePrivileges(ctx context.Context, c Caller) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // advisory: a slow CXone must not hold up a connect that worked
	defer cancel()
	if _, err := s.ListKeys(ctx, c, c.Conn.UserID); cxone.KindOf(err) == cxone.Forbidden {
		c.Conn.NoKeyPrivileges = true
		s.SetCanManageOthers(ctx, c.Conn, false) // "Access Key" is missing too
	}
}

// List returns a session's connections: those the session store read with
// the session, the first time in a request that asked for it (Preloaded).
func (s *Service) List(ctx context.Context, sessionHash []byte) ([]Connection, error) {
	if p := db.SessionPreloadFrom(ctx); p != nil && p.Done {
		p.Done = false // once: later calls in this request see what it changed
		out := make([]Connection, 0, len(p.Conns))
		for i := range p.Conns {
			out = append(out, fromRow(&p.Conns[i]))
		}
		return out, nil
	}
	if sessionHash == nil {
		return nil, nil
	}
	rows, err := db.New(s.pool).SessionConnections(ctx, sessionHash)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot reach its database right now. Try again in a moment.")
	}
	out := make([]Connection, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromRow(&r))
	}
	return out, nil
}

// Disconnect forgets c's connection (its tokens are deleted), audited.
func (s *Service) Disconnect(ctx context.Context, c Caller) error {
	return s.audit.Do(ctx, c.Event(kp.Disconnect, ""), func(ctx context.Context) (audit.Result, error) {
		if err := db.New(s.pool).DeleteConnection(ctx, c.Req.SessionHash, c.Conn.ID); err != nil {
			return audit.Result{}, err
		}
		s.forget(c.Conn.ID)
		return audit.Result{Outcome: kp.OutcomeSuccess}, nil
	})
}

// SetCanManageOthers records whether the connection's user may act on other
// users' keys (learnt from CXone's answer to a tenant-wide list).
func (s *Service) SetCanManageOthers(ctx context.Context, conn *Connection, can bool) {
	conn.CanManageOthers = &can
	if err := db.New(s.pool).SetCanManageOthers(ctx, conn.ID, can); err != nil {
		s.log.WarnContext(ctx, "could not record privilege", "err", err)
	}
}

// sealedTokens is what the tokens column holds, sealed.
type sealedTokens struct {
	Access         string    `json:"a"`
	Refresh        string    `json:"r"`
	AccessExpires  time.Time `json:"ae"`
	RefreshExpires time.Time `json:"re"`
	Obtained       time.Time `json:"o"`
}

func (s *Service) sealTokens(t *cxone.Tokens, connID string) []byte {
	b, _ := json.Marshal(sealedTokens{Access: t.Access.Reveal(), Refresh: t.Refresh.Reveal(),
		AccessExpires: t.AccessExpires, RefreshExpires: t.RefreshExpires, Obtained: t.Obtained})
	return s.sealer.Seal(b, []byte(connID))
}

func (s *Service) openTokens(sealed []byte, connID string) (*cxone.Tokens, error) {
	b, err := s.sealer.Open(sealed, []byte(connID))
	if err != nil {
		return nil, err
	}
	var st sealedTokens
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &cxone.Tokens{Access: secret.New(st.Access), Refresh: secret.New(st.Refresh), AccessExpires: st.AccessExpires,
		RefreshExpires: st.RefreshExpires, Obtained: st.Obtained}, nil
}

func fromRow(r *db.ConnectionRow) Connection {
	return Connection{ID: r.ID, Region: cxone.Region(r.Region), TenantID: r.TenantID, TenantName: r.TenantName,
		UserID: r.UserID, UserName: r.UserName, BusinessUnit: r.BusinessUnit, Verified: r.IdentityVerified,
		Expired: r.State == "expired", CanManageOthers: r.CanManageOthers, AccessExpires: r.AccessExpiresAt}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// FromRow turns a stored connection into a Connection (for jobs without a
// session, such as `keyport reconcile`).
func (s *Service) FromRow(r *db.ConnectionRow) *Connection {
	c := fromRow(r)
	return &c
}

// Get returns one of the session's connections.
func (s *Service) Get(ctx context.Context, sessionHash []byte, id string) (*Connection, error) {
	if sessionHash == nil || id == "" {
		return nil, kp.Errorf(kp.NotFound, "Not connected.")
	}
	r, err := db.New(s.pool).SessionConnection(ctx, sessionHash, id)
	if err != nil {
		return nil, err
	}
	c := fromRow(r)
	return &c, nil
}

// Preloaded returns ctx asking the session store to load the session's
// connections with the session itself (one statement); List then uses them.
// Only a request's first load of the session can do that: a session
// already loaded leaves List to query.
func Preloaded(ctx context.Context) context.Context {
	ctx, _ = db.WithSessionPreload(ctx)
	return ctx
}
