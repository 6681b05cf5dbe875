package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/app"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/pgtest"
)

// The BenchmarkTable… benchmarks are the rows of `make bench`'s table
// (issue 14; scripts/benchtable formats them): each reports its figure, the
// anchor it is held against measured in the same run, the ratio and the
// goal, in the units scripts/benchtable documents.

// benchPortal is the real portal (app.New) over HTTP on a fresh database,
// with the CXone simulator in process and a tracer counting the SQL
// statements on the portal's pool.
type benchPortal struct {
	app    *app.App
	pool   *pgxpool.Pool
	sim    *cxonesim.Sim
	url    string
	tracer *statementTracer
}

func newBenchPortal(b *testing.B) *benchPortal {
	b.Helper()
	sim := cxonesim.New(cxonesim.Options{Seed: 42})
	simSrv := httptest.NewServer(sim.Handler())
	b.Cleanup(simSrv.Close)
	sim.SetBaseURL(simSrv.URL)
	dbURL := pgtest.NewDatabase(b)
	env := map[string]string{"KEYPORT_DATABASE_URL": dbURL, "KEYPORT_SESSION_KEY": randomKey(),
		"KEYPORT_ENCRYPTION_KEY": randomKey(), "KEYPORT_AUDIT_KEY": randomKey(), "KEYPORT_COOKIE_SECURE": "false",
		"KEYPORT_CXONE_URL_TEMPLATE": sim.URLTemplate(), "KEYPORT_CXONE_JWKS_URL": sim.JWKSURL()}
	cfg, err := config.Register(newFlagSet(), func(k string) string { return env[k] }).Load()
	if err != nil {
		b.Fatal(err)
	}
	// The pool db.Open makes (KEYPORT_DB_MAX_CONNS's default), plus the tracer.
	pcfg, err := db.PoolConfig(dbURL, cfg.DBMaxConns)
	if err != nil {
		b.Fatal(err)
	}
	tracer := &statementTracer{}
	pcfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	a, err := app.New(app.Options{Config: cfg, Log: logging.New(io.Discard, "json", nil), Pool: pool, Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	// The notes cache listens as serve's background does (app.RunBackground).
	nctx, stop := context.WithCancel(context.Background())
	var notes sync.WaitGroup
	notes.Go(func() { a.Notes.Run(nctx) })
	b.Cleanup(func() { stop(); notes.Wait() })
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	return &benchPortal{app: a, pool: pool, sim: sim, url: srv.URL, tracer: tracer}
}

// benchClient keeps cookies, does not follow redirects and keeps enough
// idle connections for 32 concurrent callers (the default keeps 2, which
// would measure connection set-up instead of the page).
func benchClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 60 * time.Second,
		Transport:     &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// postForm submits a form as a same-origin browser would and wants a 303.
func postForm(client *http.Client, base, path string, form url.Values) error {
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST %s: status %d, want 303", path, res.StatusCode)
	}
	return nil
}

// getOK GETs url and reads the whole body; anything but a 200 is an error.
func getOK(client *http.Client, url string) error {
	res, err := client.Get(url)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: status %d", url, res.StatusCode)
	}
	return err
}

// load runs c workers calling call until d has passed and returns how many
// calls completed and how long that took.
func load(c int, d time.Duration, call func() error) (int64, time.Duration, error) {
	var n atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range c {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := call(); err != nil {
					once.Do(func() { first = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load(), time.Since(start), first
}

// sideBySide measures figure and anchor at concurrency c in alternating
// rounds (2.4 s each in all), so a change in the machine's load during the
// run touches both alike; it returns both rates in calls per second.
func sideBySide(b *testing.B, c int, figure, anchor func() error) (figRate, ancRate float64) {
	b.Helper()
	const rounds, per = 3, 800 * time.Millisecond
	var fn, an int64
	var ft, at time.Duration
	for range rounds {
		n, d, err := load(c, per, anchor)
		if err != nil {
			b.Fatal(err)
		}
		an, at = an+n, at+d
		if n, d, err = load(c, per, figure); err != nil {
			b.Fatal(err)
		}
		fn, ft = fn+n, ft+d
	}
	return float64(fn) / ft.Seconds(), float64(an) / at.Seconds()
}

// connectAdmin connects client as the first na1 tenant's admin (a basic
// token from the simulator, POST /connect) and returns the tenant's id.
func (p *benchPortal) connectAdmin(b *testing.B, client *http.Client) (tenantID, adminID string) {
	b.Helper()
	ten, admin, _, ok := p.sim.SeededTenant("na1", 0)
	if !ok {
		b.Fatal("no seeded na1 tenant")
	}
	tok, err := p.sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		b.Fatal(err)
	}
	if err := postForm(client, p.url, "/connect", url.Values{"region": {"na1"}, "basic_token": {tok.Reveal()}}); err != nil {
		b.Fatal(err)
	}
	return ten.ID, admin.ID
}

// simList returns a call of the simulator's list-keys endpoint as that
// admin, through the portal's own CXone client (the same HTTP client
// settings the page's call uses), tenant-wide as the page lists.
func (p *benchPortal) simList(b *testing.B, tenantID, adminID string) func() error {
	b.Helper()
	basic, err := p.sim.BasicToken("na1", tenantID, adminID)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := p.app.CXone.ExchangeBasicToken(context.Background(), kp.Region("na1"), basic)
	if err != nil {
		b.Fatal(err)
	}
	return func() error {
		_, err := p.app.CXone.ListKeys(context.Background(), kp.Region("na1"), tok.Access, "")
		return err
	}
}

// BenchmarkTableKeysPage measures GET /keys for a connected admin against
// /healthz on the same server at c = 1, 8 and 32 (report only), against the
// simulator's own list-keys endpoint at c = 8 (goal ratio >= 0.5), and
// counts the SQL statements of one view (goal <= 4).
//
//	go test -run '^$' -bench TableKeysPage -benchtime 1x ./handlers
func BenchmarkTableKeysPage(b *testing.B) {
	p := newBenchPortal(b)
	client := benchClient()
	tenantID, adminID := p.connectAdmin(b, client)
	keys := func() error { return getOK(client, p.url+"/keys") }
	healthz := func() error { return getOK(client, p.url+"/healthz") }
	for range 20 { // warm-up: connections, the statement cache, CXone's JWKS
		if err := keys(); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			var fig, anc float64
			for b.Loop() {
				fig, anc = sideBySide(b, c, keys, healthz)
			}
			reportRatio(b, fig, anc, "req/s", 0)
		})
	}
	b.Run("c=8_vs_sim", func(b *testing.B) {
		list := p.simList(b, tenantID, adminID)
		var fig, anc float64
		for b.Loop() {
			fig, anc = sideBySide(b, 8, keys, list)
		}
		reportRatio(b, fig, anc, "req/s", 0.5)
	})
	// What the page adds to the CXone call it must make: its latency beside
	// the simulator's list call's, at the same concurrency, in alternating
	// rounds (issue 23: <= +1 ms p50 at c = 1, <= +5 ms p99 at c = 8).
	for _, c := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("latency_c=%d", c), func(b *testing.B) {
			list := p.simList(b, tenantID, adminID)
			var page, sim []time.Duration
			for b.Loop() {
				page, sim = latencies(b, c, keys, list)
			}
			pp50, pp99, sp50, sp99 := percentile(page, 50), percentile(page, 99), percentile(sim, 50), percentile(sim, 99)
			b.ReportMetric(ms(pp50), "p50_ms")
			b.ReportMetric(ms(pp99), "p99_ms")
			b.ReportMetric(ms(sp50), "sim_p50_ms")
			b.ReportMetric(ms(sp99), "sim_p99_ms")
			b.ReportMetric(ms(pp50-sp50), "added_p50_ms")
			b.ReportMetric(ms(pp99-sp99), "added_p99_ms")
			switch c {
			case 1:
				b.ReportMetric(1, "max_added_p50_ms")
			case 8:
				b.ReportMetric(5, "max_added_p99_ms")
			}
		})
	}
	b.Run("statements", func(b *testing.B) {
		const views = 50
		var counts map[string]int
		for b.Loop() {
			p.tracer.start()
			for range views {
				if err := keys(); err != nil {
					b.Fatal(err)
				}
			}
			counts = p.tracer.stop()
		}
		total := 0
		for _, n := range counts {
			total += n
		}
		b.ReportMetric(float64(total)/views, "statements")
		b.ReportMetric(4, "max_statements")
		logStatements(b, counts, views)
	})
}

// latencies times each call of figure and anchor at concurrency c in
// alternating rounds (as sideBySide) and returns every call's duration.
func latencies(b *testing.B, c int, figure, anchor func() error) (fig, anc []time.Duration) {
	b.Helper()
	const rounds, per = 3, 800 * time.Millisecond
	for range rounds {
		anc = append(anc, timed(b, c, per, anchor)...)
		fig = append(fig, timed(b, c, per, figure)...)
	}
	return fig, anc
}

func timed(b *testing.B, c int, d time.Duration, call func() error) []time.Duration {
	b.Helper()
	var mu sync.Mutex
	var out []time.Duration
	_, _, err := load(c, d, func() error {
		start := time.Now()
		err := call()
		took := time.Since(start)
		mu.Lock()
		out = append(out, took)
		mu.Unlock()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// percentile is the p-th percentile of ds (nearest rank); ds is sorted.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := (len(ds)*p + 99) / 100
	return ds[max(0, min(i, len(ds))-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// reportRatio reports a figure, its anchor and their ratio, and the goal
// when there is one (goal 0: report only).
func reportRatio(b *testing.B, figure, anchor float64, unit string, goal float64) {
	b.ReportMetric(figure, unit)
	b.ReportMetric(anchor, "anchor_"+unit)
	b.ReportMetric(figure/anchor, "ratio")
	if goal > 0 {
		b.ReportMetric(goal, "goal_ratio")
	}
}

// logStatements lists the statements of one view, most frequent first:
// what the round-trip work (issue 14) has to remove.
func logStatements(b *testing.B, counts map[string]int, views int) {
	sqls := make([]string, 0, len(counts))
	for s := range counts {
		sqls = append(sqls, s)
	}
	sort.Slice(sqls, func(i, j int) bool {
		if counts[sqls[i]] != counts[sqls[j]] {
			return counts[sqls[i]] > counts[sqls[j]]
		}
		return sqls[i] < sqls[j]
	})
	for _, s := range sqls {
		b.Logf("%5.2f per view: %s", float64(counts[s])/float64(views), s)
	}
}

// statementTracer counts the statements sent on a pool while on: every
// query, exec, batched query and COPY FROM (begin and commit are execs).
type statementTracer struct {
	mu     sync.Mutex
	on     bool
	counts map[string]int
}

func (t *statementTracer) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on, t.counts = true, map[string]int{}
}

func (t *statementTracer) stop() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = false
	return t.counts
}

func (t *statementTracer) record(sql string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.on {
		t.counts[shortSQL(sql)]++
	}
}

// shortSQL is a statement on one line, a SELECT's column list elided, so
// the log says which table each statement reads.
func shortSQL(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if rest, ok := strings.CutPrefix(s, "SELECT "); ok {
		if i := strings.Index(rest, " FROM "); i > 40 {
			s = "SELECT …" + rest[i:]
		}
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func (t *statementTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	t.record(d.SQL)
	return ctx
}

func (t *statementTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t *statementTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (t *statementTracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	t.record(d.SQL)
}

func (t *statementTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (t *statementTracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceCopyFromStartData) context.Context {
	t.record("COPY " + d.TableName.Sanitize() + " FROM STDIN")
	return ctx
}

func (t *statementTracer) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}
