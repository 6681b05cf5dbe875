package cxone_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/secret"
)

// signingKey is shared by the simulators of this package's tests only to
// save the RSA generation time; it is never written.
var signingKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// clock is a settable clock shared by the simulator and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeps records the client's backoff waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

type env struct {
	t       *testing.T
	sim     *cxonesim.Sim
	srv     *httptest.Server
	client  *cxone.Client
	clock   *clock
	sleeps  *sleeps
	logs    *syncBuffer // client and simulator logs
	simOpts cxonesim.Options
	cfg     cxone.Config
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newEnv starts a simulator behind httptest and a client pointed at it
// with fast backoffs. mod may adjust both configurations.
func newEnv(t *testing.T, mod ...func(*cxonesim.Options, *cxone.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), sleeps: &sleeps{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.simOpts = cxonesim.Options{Seed: 1, SigningKey: signingKey(), Now: e.clock.Now, Logger: log}
	e.cfg = cxone.Config{CallTimeout: 2 * time.Second, DialTimeout: time.Second, Logger: log,
		Sleep: e.sleeps.Sleep, Now: e.clock.Now, UserAgent: "Keyport/test"}
	for _, m := range mod {
		m(&e.simOpts, &e.cfg)
	}
	e.sim = cxonesim.New(e.simOpts)
	e.srv = httptest.NewServer(e.sim.Handler())
	t.Cleanup(e.srv.Close)
	e.sim.SetBaseURL(e.srv.URL)
	e.cfg.URLTemplate = e.sim.URLTemplate()
	if e.cfg.JWKSURL == "" {
		e.cfg.JWKSURL = e.sim.JWKSURL()
	}
	e.client = e.newClient()
	return e
}

// newClient builds another client with the same configuration and its own
// connections (a connection reused after a drop would let net/http replay
// a GET on its own and skew the call counts).
func (e *env) newClient() *cxone.Client {
	e.t.Helper()
	c, err := cxone.NewClient(e.cfg)
	if err != nil {
		e.t.Fatalf("NewClient: %v", err)
	}
	return c
}

// people returns tenant i of region with its admin, My-Access-Key user and
// viewer (no privilege).
func (e *env) people(region string, i int) (tenant cxonesim.Tenant, admin, user, viewer cxonesim.User) {
	e.t.Helper()
	n := 0
	for _, t := range e.sim.Tenants() {
		if t.Region == region {
			if n == i {
				return t, t.Users[0], t.Users[1], t.Users[2]
			}
			n++
		}
	}
	e.t.Fatalf("no tenant %d in %s", i, region)
	return
}

// login exchanges a fresh basic token of user for tokens.
func (e *env) login(region, tenantID, userID string) *cxone.Tokens {
	e.t.Helper()
	basic, err := e.sim.BasicToken(region, tenantID, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.newClient().ExchangeBasicToken(context.Background(), cxone.Region(region), basic)
	if err != nil {
		e.t.Fatalf("exchange basic token: %v", err)
	}
	return tok
}

func kindOf(t *testing.T, err error, want cxone.ErrorKind) *cxone.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want kind %v", want)
	}
	var ce *cxone.Error
	if !asError(err, &ce) {
		t.Fatalf("got %T %v, want *cxone.Error", err, err)
	}
	if ce.Kind != want {
		t.Fatalf("kind = %v (%v), want %v", ce.Kind, err, want)
	}
	return ce
}

var _ = secret.New

func asError(err error, target **cxone.Error) bool { return errors.As(err, target) }
