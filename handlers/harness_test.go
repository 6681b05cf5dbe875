package handlers_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/app"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testApp is the real portal (app.New) on a fresh database, talking to an
// in-process CXone simulator, served over httptest.
type testApp struct {
	t      *testing.T
	App    *app.App
	Pool   *pgxpool.Pool
	Sim    *cxonesim.Sim
	SimURL string
	URL    string
	Log    *syncBuffer
	Config config.Config
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// testSetup is what a test may adjust before the portal is built.
type testSetup struct {
	Config  *config.Config
	Options *app.Options
	Tracer  pgx.QueryTracer // sees every statement on the portal's pool
	URL     string          // the database (default: a fresh pgtest one)
}

// fastCXone makes the CXone client's retries and timeouts test-sized.
func fastCXone(c *cxone.Config) {
	c.Backoff = []time.Duration{time.Millisecond, 2 * time.Millisecond}
	c.CallTimeout = 2 * time.Second
}

// newTestApp builds the portal. mutate may adjust the configuration and
// app options.
func newTestApp(t *testing.T, mutate ...func(*testSetup)) *testApp {
	t.Helper()
	sim := cxonesim.New(cxonesim.Options{Seed: 42})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	sim.SetBaseURL(simSrv.URL)

	url := pgtest.NewDatabase(t)
	env := map[string]string{
		"KEYPORT_DATABASE_URL":       url,
		"KEYPORT_SESSION_KEY":        randomKey(),
		"KEYPORT_ENCRYPTION_KEY":     randomKey(),
		"KEYPORT_AUDIT_KEY":          randomKey(),
		"KEYPORT_COOKIE_SECURE":      "false",
		"KEYPORT_CXONE_URL_TEMPLATE": sim.URLTemplate(),
		"KEYPORT_CXONE_JWKS_URL":     sim.JWKSURL(),
	}
	src := config.Register(newFlagSet(), func(k string) string { return env[k] })
	cfg, err := src.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Tests export as often as they check something; the export limit's own
	// test (TestExportsAreLimitedPerReviewer) sets a small one.
	opts := app.Options{Log: nil, Version: "test", CXone: fastCXone, ExportRateLimit: 1 << 20}
	setup := testSetup{Config: &cfg, Options: &opts, URL: url}
	for _, m := range mutate {
		m(&setup)
	}
	pcfg, err := pgxpool.ParseConfig(setup.URL)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.Tracer = setup.Tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logs := &syncBuffer{}
	opts.Config, opts.Log, opts.Pool = cfg, logging.New(logs, "json", nil), pool
	a, err := app.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &testApp{t: t, App: a, Pool: pool, Sim: sim, SimURL: simSrv.URL, URL: srv.URL, Log: logs, Config: cfg}
}

// browser is a cookie-keeping client that does not follow redirects, so
// tests see the 303s.
type browser struct {
	t    *testing.T
	app  *testApp
	http *http.Client
	// seen collects every response body, for canary checks.
	mu   sync.Mutex
	seen []string
}

func (a *testApp) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: a.t, app: a, http: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status   int
	Header   http.Header
	Body     string
	Doc      *goquery.Document
	Location string
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	doc.Url = req.URL
	b.mu.Lock()
	b.seen = append(b.seen, req.URL.Path+"\n"+string(body))
	b.mu.Unlock()
	return &page{Status: res.StatusCode, Header: res.Header, Body: string(body), Doc: doc, Location: res.Header.Get("Location")}
}

func (b *browser) get(path string) *page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.app.URL+path, nil)
	return b.do(req)
}

// post submits a form as a same-origin browser would.
func (b *browser) post(path string, form url.Values) *page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.app.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.app.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// follow GETs a 303's target.
func (b *browser) follow(p *page) *page {
	b.t.Helper()
	if p.Status != http.StatusSeeOther {
		b.t.Fatalf("want 303, got %d: %s", p.Status, text(p))
	}
	return b.get(p.Location)
}

// text is the page's visible main text, for failure messages.
func text(p *page) string {
	if p.Doc == nil {
		return p.Body
	}
	return strings.Join(strings.Fields(p.Doc.Find("main").Text()), " ")
}

type goquerySelection = goquery.Selection

func verifyTrail(a *testApp) (bool, error) {
	rep, err := audit.Verify(context.Background(), a.Pool, a.App.Audit.Keys(), nil)
	if err != nil {
		return false, err
	}
	if !rep.OK() {
		return false, fmt.Errorf("%s", rep)
	}
	return true, nil
}

type (
	cxoneConfig    = cxone.Config
	cxonesimTenant = cxonesim.Tenant
)
