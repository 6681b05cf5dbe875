package keys_test

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is the key service on a fresh database, talking to an in-process
// simulator.
type env struct {
	pool  *pgxpool.Pool
	sim   *cxonesim.Sim
	trail *audit.Writer
	conns *connection.Service
	keys  *keys.Service
	// before, when set, sees each request before the simulator does.
	before atomic.Pointer[func(*http.Request)]
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{sim: cxonesim.New(cxonesim.Options{Seed: 42})}
	sim := e.sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := e.before.Load(); f != nil {
			(*f)(r)
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.sim.SetBaseURL(srv.URL)
	e.pool = pgtest.NewPool(t)
	log := slog.New(slog.DiscardHandler)
	cx, err := cxone.NewClient(cxone.Config{URLTemplate: e.sim.URLTemplate(), JWKSURL: e.sim.JWKSURL(), Logger: log,
		CallTimeout: 5 * time.Second, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	auditKeys, err := audit.DeriveKeys(keyring.New(secret.New(kp.NewToken())))
	if err != nil {
		t.Fatal(err)
	}
	e.trail = audit.NewWriter(e.pool, auditKeys, log)
	if e.conns, err = connection.New(e.pool, cx, e.trail, keyring.New(secret.New(kp.NewToken())), log); err != nil {
		t.Fatal(err)
	}
	inst, err := db.HoldInstance(context.Background(), e.pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Release(context.Background()) })
	e.keys = keys.New(e.pool, e.conns, e.trail, log, time.Now, 90*24*time.Hour, inst.Key)
	return e
}

// connect connects a new admin session as user of tenant in na1.
func (e *env) connect(t *testing.T, tenantID, userID string) connection.Caller {
	t.Helper()
	ctx := context.Background()
	id := kp.NewToken()
	h := sha256.Sum256([]byte(id))
	now := time.Now()
	if err := db.New(e.pool).InsertSession(ctx, &db.SessionRow{IDHash: h[:], Kind: "admin", Data: []byte{},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	req := connection.Request{Session: secret.New(id), SessionHash: h[:], ClientIP: "192.0.2.7", UserAgent: "keys test"}
	basic, err := e.sim.BasicToken("na1", tenantID, userID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := e.conns.Connect(ctx, req, "na1", basic)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return connection.Caller{Req: req, Conn: conn}
}

// tenant returns the n-th seeded na1 tenant, its admin and a plain user.
func tenant(t *testing.T, sim *cxonesim.Sim, n int) (cxonesim.Tenant, cxonesim.User, cxonesim.User) {
	t.Helper()
	ten, admin, user, ok := sim.SeededTenant("na1", n)
	if !ok {
		t.Fatalf("no na1 tenant #%d with an admin and a plain user", n)
	}
	return ten, admin, user
}

// simKey returns a key as the simulator holds it now, and whether it exists.
func (e *env) simKey(t *testing.T, tenantID, keyID string) (cxonesim.Key, bool) {
	t.Helper()
	ten, ok := e.sim.Tenant("na1", tenantID)
	if !ok {
		t.Fatalf("no tenant %s", tenantID)
	}
	for _, k := range ten.Keys {
		if k.ID == keyID {
			return k, true
		}
	}
	return cxonesim.Key{}, false
}

// keyOf returns the id of a seeded key of user in state active.
func keyOf(t *testing.T, ten cxonesim.Tenant, userID string, active bool) string {
	t.Helper()
	for _, k := range ten.Keys {
		if k.UserID == userID && k.Active == active {
			return k.ID
		}
	}
	t.Fatalf("tenant %s has no key of %s with active=%v", ten.ID, userID, active)
	return ""
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

// createState returns the stored state of a create submission.
func (e *env) createState(t *testing.T, formToken string) string {
	t.Helper()
	var st string
	if err := e.pool.QueryRow(context.Background(), `SELECT state FROM key_creates WHERE form_token = $1`, formToken).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func ids(ks []keys.Key) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.ID)
	}
	slices.Sort(out)
	return out
}

func TestListShowsTheTenantsKeysAndWhoMaySeeThem(t *testing.T) {
	e := newEnv(t)
	ten, admin, user := tenant(t, e.sim, 0)
	ctx := context.Background()

	t.Run("an admin with Access Key sees every key of the tenant", func(t *testing.T) {
		as := e.connect(t, ten.ID, admin.ID)
		l, err := e.keys.List(ctx, as, "")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, k := range ten.Keys {
			want = append(want, k.ID)
		}
		slices.Sort(want)
		if got := ids(l.Keys); !slices.Equal(got, want) {
			t.Errorf("keys %v, want %v", got, want)
		}
		owners := []string{admin.ID, user.ID}
		slices.Sort(owners)
		if l.OwnOnly || !slices.Equal(l.Owners, owners) || len(l.Pending) != 0 || len(l.Reconciled) != 0 {
			t.Errorf("listing = %+v; want all owners %v, nothing pending", l, owners)
		}
		if n := e.events(t, `action = 'key.list' AND outcome = 'success' AND actor_user_id = $1 AND details->>'count' = '3'`, admin.ID); n != 1 {
			t.Errorf("%d key.list events for the admin's 3 keys, want 1", n)
		}
	})

	t.Run("a user with My Access Key only sees their own keys, and Keyport learns it once", func(t *testing.T) {
		as := e.connect(t, ten.ID, user.ID)
		for i, wantCalls := range []int{2, 1} { // a refused tenant-wide list, then the own; afterwards the own only
			calls := e.sim.Calls(cxonesim.EndpointList)
			l, err := e.keys.List(ctx, as, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(l.Keys); !l.OwnOnly || !slices.Equal(got, []string{keyOf(t, ten, user.ID, true)}) {
				t.Errorf("list %d: own only %v, keys %v; want only the user's key", i+1, l.OwnOnly, got)
			}
			if got := e.sim.Calls(cxonesim.EndpointList) - calls; got != wantCalls {
				t.Errorf("list %d: %d calls to CXone, want %d", i+1, got, wantCalls)
			}
		}
	})
}
