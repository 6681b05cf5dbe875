package connection_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is a connection service on a fresh database, talking to an
// in-process simulator.
type env struct {
	pool  *pgxpool.Pool
	sim   *cxonesim.Sim
	conns *connection.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim := cxonesim.New(cxonesim.Options{Seed: 42})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	sim.SetBaseURL(srv.URL)
	pool := pgtest.NewPool(t)
	log := slog.New(slog.DiscardHandler)
	cx, err := cxone.NewClient(cxone.Config{URLTemplate: sim.URLTemplate(), JWKSURL: sim.JWKSURL(), Logger: log,
		CallTimeout: 5 * time.Second, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	auditKeys, err := audit.DeriveKeys(keyring.New(secret.New(kp.NewToken())))
	if err != nil {
		t.Fatal(err)
	}
	conns, err := connection.New(pool, cx, audit.NewWriter(pool, auditKeys, log), keyring.New(secret.New(kp.NewToken())), log)
	if err != nil {
		t.Fatal(err)
	}
	return &env{pool: pool, sim: sim, conns: conns}
}

// session stores a new admin session and returns the request of a browser
// holding it.
func (e *env) session(t *testing.T) connection.Request {
	t.Helper()
	id := kp.NewToken()
	h := sha256.Sum256([]byte(id))
	now := time.Now()
	if err := db.New(e.pool).InsertSession(context.Background(), &db.SessionRow{IDHash: h[:], Kind: "admin", Data: []byte{},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return connection.Request{Session: secret.New(id), SessionHash: h[:], ClientIP: "192.0.2.7", UserAgent: "connection test"}
}

// connect connects a new session as user of tenant in na1.
func (e *env) connect(t *testing.T, tenantID, userID string) connection.Caller {
	t.Helper()
	req := e.session(t)
	basic, err := e.sim.BasicToken("na1", tenantID, userID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := e.conns.Connect(context.Background(), req, "na1", basic)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return connection.Caller{Req: req, Conn: conn}
}

// tenant returns the first seeded na1 tenant, its admin (with "Access Key")
// and a plain user (with "My Access Key" only).
func tenant(t *testing.T, sim *cxonesim.Sim) (cxonesim.Tenant, cxonesim.User, cxonesim.User) {
	t.Helper()
	ten, admin, user, ok := sim.SeededTenant("na1", 0)
	if !ok {
		t.Fatal("no na1 tenant with an admin and a plain user")
	}
	return ten, admin, user
}

// events counts the audit events matching where.
func (e *env) events(t *testing.T, where string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConnectWithABasicTokenStoresTheConnectionSealed(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	ctx := context.Background()
	req := e.session(t)
	basic, err := e.sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := e.conns.Connect(ctx, req, "na1", basic)
	if err != nil {
		t.Fatal(err)
	}
	if conn.Region != "na1" || conn.TenantID != ten.ID || conn.TenantName != ten.Name || conn.UserID != admin.ID ||
		conn.UserName != admin.Email || !conn.Verified || conn.Expired {
		t.Errorf("connection = %+v; want %s/%s (%s, %s), verified, live", conn, ten.ID, admin.ID, ten.Name, admin.Email)
	}
	listed, err := e.conns.List(ctx, req.SessionHash)
	if err != nil || len(listed) != 1 || listed[0].ID != conn.ID {
		t.Fatalf("List = %+v, %v; want the one connection", listed, err)
	}
	if _, err := e.conns.Get(ctx, e.session(t).SessionHash, conn.ID); kp.KindOf(err) != kp.NotFound {
		t.Errorf("another session's Get = %v, want NotFound", err)
	}
	// Only sealed tokens are stored: neither the basic token nor any JWT.
	var tokens []byte
	if err := e.pool.QueryRow(ctx, `SELECT tokens FROM connections WHERE id = $1`, conn.ID).Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(tokens, []byte(basic.Reveal())) || bytes.Contains(tokens, []byte("eyJ")) {
		t.Error("the connection row holds a token in clear")
	}
	if n := e.events(t, `action = 'connect' AND outcome = 'intent'`); n != 1 {
		t.Errorf("%d connect intents, want 1", n)
	}
	if n := e.events(t, `action = 'connect' AND outcome = 'success' AND intent_id IS NOT NULL AND actor_user_id = $1 AND tenant_id = $2`,
		admin.ID, ten.ID); n != 1 {
		t.Errorf("%d connect outcomes naming the admin and tenant, want 1", n)
	}
}

func TestConnectRefusesBadBasicTokens(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	ctx := context.Background()
	used, err := e.sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.connect(t, ten.ID, admin.ID) // a different token: sessions may connect more than once
	if _, err := e.conns.Connect(ctx, e.session(t), "na1", used); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		basic     string
		wantKind  kp.Kind
		wantMsg   string
		wantSent  int // exchanges that reached CXone
		wantAudit int // failure outcomes recorded
	}{
		{"an empty token is asked for again", "  ", kp.Invalid, "Paste the basic token", 0, 0},
		{"a malformed token is refused before anything is sent", "not-a-token", kp.Invalid, "That is not a basic token", 0, 1},
		{"a used token is CXone's refusal", used.Reveal(), kp.Unauthorized, "may have been used already", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent := e.sim.Calls(cxonesim.EndpointRefresh)
			failures := e.events(t, `action = 'connect' AND outcome = 'failure'`)
			_, err := e.conns.Connect(ctx, e.session(t), "na1", secret.New(tc.basic))
			if kp.KindOf(err) != tc.wantKind || !strings.Contains(kp.MessageOf(err), tc.wantMsg) {
				t.Errorf("Connect = %v; want %v saying %q", err, tc.wantKind, tc.wantMsg)
			}
			if got := e.sim.Calls(cxonesim.EndpointRefresh) - sent; got != tc.wantSent {
				t.Errorf("%d exchanges sent, want %d", got, tc.wantSent)
			}
			if got := e.events(t, `action = 'connect' AND outcome = 'failure'`) - failures; got != tc.wantAudit {
				t.Errorf("%d connect failures recorded, want %d", got, tc.wantAudit)
			}
		})
	}
}

func TestCallsActAsTheConnection(t *testing.T) {
	e := newEnv(t)
	ten, admin, user := tenant(t, e.sim)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)

	all, err := e.conns.ListKeys(ctx, as, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Keys) != len(ten.Keys) {
		t.Errorf("tenant-wide list: %d keys, want %d", len(all.Keys), len(ten.Keys))
	}
	for _, k := range all.Keys {
		if k.TenantID != ten.ID {
			t.Errorf("listed key %s of tenant %s", k.ID, k.TenantID)
		}
	}
	own, err := e.conns.ListKeys(ctx, as, user.ID)
	if err != nil || len(own.Keys) != 1 || own.Keys[0].UserID != user.ID {
		t.Fatalf("the user's keys: %+v, %v; want their one key", own, err)
	}

	var active string
	for _, k := range ten.Keys {
		if k.UserID == admin.ID && k.Active {
			active = k.ID
		}
	}
	if err := e.conns.SetActive(ctx, as, active, admin.ID, false); err != nil {
		t.Fatal(err)
	}
	if k, err := e.conns.GetKey(ctx, as, active); err != nil || k.Active {
		t.Fatalf("after deactivating: %+v, %v; want an inactive key", k, err)
	}
	if err := e.conns.DeleteKey(ctx, as, active); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conns.GetKey(ctx, as, active); cxone.KindOf(err) != cxone.NotFound {
		t.Fatalf("after deleting: %v, want CXone's not found", err)
	}
}

func TestEventNamesTheCallerAndWhereFrom(t *testing.T) {
	conn := &connection.Connection{Region: "eu1", TenantID: "t1", TenantName: "Acme", UserID: "u1", UserName: "Ada"}
	req := connection.Request{Session: secret.New("session-id"), ClientIP: "198.51.100.4", UserAgent: "ua"}
	got := connection.Caller{Req: req, Conn: conn}.Event(kp.KeyDelete, "KEY1")
	if got.Action != kp.KeyDelete || got.TargetKeyID != "KEY1" ||
		got.Actor != (audit.Actor{Kind: kp.ActorAdmin, UserID: "u1", Name: "Ada"}) ||
		got.Scope.TenantID != "t1" || got.Scope.TenantName != "Acme" || got.Scope.Region != "eu1" ||
		got.Scope.Session.Reveal() != "session-id" || got.Scope.ClientIP != "198.51.100.4" || got.Scope.UserAgent != "ua" {
		t.Errorf("Event = %+v", got)
	}
}

func TestAnExpiredBearerIsRefreshedOnceAndTheCallReplayed(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	as := e.connect(t, ten.ID, admin.ID)
	refreshes, lists := e.sim.Calls(cxonesim.EndpointRefresh), e.sim.Calls(cxonesim.EndpointList)
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.ExpireNow})
	list, err := e.conns.ListKeys(context.Background(), as, "")
	if err != nil || len(list.Keys) != len(ten.Keys) {
		t.Fatalf("list with an expired bearer: %v, %v", list, err)
	}
	if got := e.sim.Calls(cxonesim.EndpointRefresh) - refreshes; got != 1 {
		t.Errorf("%d refreshes, want 1", got)
	}
	if got := e.sim.Calls(cxonesim.EndpointList) - lists; got != 2 {
		t.Errorf("%d list calls, want 2 (the refused one and its replay)", got)
	}
	if n := e.events(t, `action = 'token.refresh' AND outcome = 'success'`); n != 1 {
		t.Errorf("%d token.refresh successes, want 1", n)
	}
}

// The token.refresh event belongs to the request that needed the refresh
// (its request id, client address and agent), not to the first request the
// connection served in this process.
func TestARefreshIsRecordedAsTheRequestThatNeededIt(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	as := e.connect(t, ten.ID, admin.ID)
	first := logging.WithRequestID(context.Background(), "first-request")
	if _, err := e.conns.ListKeys(first, as, ""); err != nil {
		t.Fatal(err)
	}
	later := as
	later.Req.ClientIP, later.Req.UserAgent = "203.0.113.77", "later agent"
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.ExpireNow})
	if _, err := e.conns.ListKeys(logging.WithRequestID(context.Background(), "later-request"), later, ""); err != nil {
		t.Fatal(err)
	}
	var reqID, ip, ua string
	if err := e.pool.QueryRow(context.Background(), `SELECT request_id, coalesce(client_ip::text, ''), user_agent
		FROM audit_events WHERE action = 'token.refresh' AND outcome = 'success'`).Scan(&reqID, &ip, &ua); err != nil {
		t.Fatal(err)
	}
	if reqID != "later-request" || !strings.HasPrefix(ip, "203.0.113.77") || ua != "later agent" {
		t.Errorf("token.refresh recorded as request %q from %q (%q); want the later request's", reqID, ip, ua)
	}
}

func TestARejectedRefreshTokenExpiresTheConnection(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.ExpireNow})
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointRefresh, Mode: cxonesim.ExpireNow})
	_, err := e.conns.ListKeys(ctx, as, "")
	if !errors.Is(err, connection.ErrExpired) || kp.KindOf(err) != kp.Unauthorized || !strings.Contains(kp.MessageOf(err), "Paste a new basic token") {
		t.Fatalf("list after the refresh token died: %v; want ErrExpired asking for a new basic token", err)
	}
	if !as.Conn.Expired {
		t.Error("the connection is not marked expired")
	}
	if listed, err := e.conns.List(ctx, as.Req.SessionHash); err != nil || len(listed) != 1 || !listed[0].Expired {
		t.Errorf("stored connection: %+v, %v; want it expired", listed, err)
	}
	if n := e.events(t, `action = 'token.refresh' AND outcome = 'failure'`); n != 1 {
		t.Errorf("%d token.refresh failures, want 1", n)
	}
	// Nothing more is sent as this connection, not even a create.
	lists := e.sim.Calls(cxonesim.EndpointList)
	if _, err := e.conns.ListKeys(ctx, as, ""); !errors.Is(err, connection.ErrExpired) {
		t.Errorf("second list: %v, want ErrExpired", err)
	}
	if _, err := e.conns.CreateKey(ctx, as, admin.ID); !errors.Is(err, connection.ErrNotSent) || !errors.Is(err, connection.ErrExpired) {
		t.Errorf("create: %v, want ErrNotSent and ErrExpired", err)
	}
	if got := e.sim.Calls(cxonesim.EndpointList) - lists; got != 0 {
		t.Errorf("%d lists sent through an expired connection", got)
	}
	if got := e.sim.Calls(cxonesim.EndpointCreate); got != 0 {
		t.Errorf("%d creates sent through an expired connection", got)
	}
}

func TestDisconnectForgetsTheConnection(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	if err := e.conns.Disconnect(ctx, as); err != nil {
		t.Fatal(err)
	}
	if listed, err := e.conns.List(ctx, as.Req.SessionHash); err != nil || len(listed) != 0 {
		t.Errorf("after disconnecting: %+v, %v; want no connections", listed, err)
	}
	var rows int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM connections`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d connection rows (tokens) left, %v", rows, err)
	}
	if n := e.events(t, `action = 'disconnect' AND outcome = 'success' AND actor_user_id = $1`, admin.ID); n != 1 {
		t.Errorf("%d disconnect events, want 1", n)
	}
}

// §6.4: a create refused with 401 is not sent again, but the bearer is
// renewed, so that the admin's own retry is accepted.
func TestACreateRefusedWith401IsNotReplayedButTheBearerIsRenewed(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	refreshes := e.sim.Calls(cxonesim.EndpointRefresh)
	e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.ExpireNow})
	_, err := e.conns.CreateKey(ctx, as, admin.ID)
	if cxone.KindOf(err) != cxone.Unauthorized || errors.Is(err, connection.ErrNotSent) {
		t.Fatalf("create with a bearer CXone no longer accepts: %v; want CXone's 401", err)
	}
	if got := e.sim.Calls(cxonesim.EndpointCreate); got != 1 {
		t.Fatalf("%d creates sent, want 1", got)
	}
	if got := e.sim.Calls(cxonesim.EndpointRefresh) - refreshes; got != 1 {
		t.Errorf("%d refreshes after the 401, want 1", got)
	}
	created, err := e.conns.CreateKey(ctx, as, admin.ID)
	if err != nil || created.ID == "" || created.Secret.IsZero() {
		t.Fatalf("the retry: %+v, %v; want a new key", created, err)
	}
}
