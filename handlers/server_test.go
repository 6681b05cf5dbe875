package handlers_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/handlers"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/metrics"
	"github.com/keyport/keyport/static"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type bareServer struct {
	e   *echo.Echo
	log *syncBuffer
}

// newBare builds the real router without a database, for tests of the HTTP
// stack itself.
func newBare(t *testing.T, trusted ...string) bareServer {
	t.Helper()
	return newBareWith(t, func(*handlers.Deps) {}, trusted...)
}

// newBareWith is newBare with dependencies adjusted by mutate.
func newBareWith(t *testing.T, mutate func(*handlers.Deps), trusted ...string) bareServer {
	t.Helper()
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	var nets []*net.IPNet
	for _, c := range trusted {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, n)
	}
	buf := &syncBuffer{}
	reg, m := metrics.NewRegistry(nil)
	d := handlers.Deps{
		Log: logging.New(buf, "json", nil), Assets: assets, Version: "test",
		TrustedProxies: nets, Metrics: m, Gatherer: reg,
	}
	mutate(&d)
	e := handlers.New(d)
	return bareServer{e: e, log: buf}
}

func (s bareServer) get(t *testing.T, target string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for _, m := range mod {
		m(req)
	}
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	return rec
}

func doc(t *testing.T, rec *httptest.ResponseRecorder) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestUnknownRouteRendersStyled404(t *testing.T) {
	s := newBare(t)
	rec := s.get(t, "/no/such/page")
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", rec.Code)
	}
	d := doc(t, rec)
	if got := d.Find(`[data-testid="error-status"]`).Text(); got != "404" {
		t.Errorf("error-status = %q, want 404", got)
	}
	if d.Find(`[data-testid="brand"]`).Length() != 1 || d.Find(`link[rel="stylesheet"]`).Length() != 2 {
		t.Error("404 page is not rendered inside the styled layout")
	}
	if id := d.Find(`[data-testid="request-id"]`).Text(); id == "" || id != rec.Header().Get("X-Request-Id") {
		t.Errorf("request id on page %q, header %q", id, rec.Header().Get("X-Request-Id"))
	}
}

func TestPanicRendersInternalErrorWithRequestIDAndLogsStack(t *testing.T) {
	s := newBare(t)
	s.e.GET("/test/panic", func(echo.Context) error { panic("kaboom-in-handler") })
	rec := s.get(t, "/test/panic")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	body := rec.Body.String()
	d := doc(t, rec)
	rid := rec.Header().Get("X-Request-Id")
	if rid == "" || d.Find(`[data-testid="request-id"]`).Text() != rid {
		t.Errorf("page does not show the request id %q", rid)
	}
	if !strings.Contains(d.Find(`[data-testid="error-message"]`).Text(), "Internal error") {
		t.Errorf("page message = %q", d.Find(`[data-testid="error-message"]`).Text())
	}
	for _, leak := range []string{"kaboom-in-handler", "goroutine", ".go:"} {
		if strings.Contains(body, leak) {
			t.Errorf("500 page leaks %q", leak)
		}
	}
	logs := s.log.String()
	if !strings.Contains(logs, "kaboom-in-handler") || !strings.Contains(logs, "server_test.go") {
		t.Errorf("log lacks the panic and its stack:\n%s", logs)
	}
	if !strings.Contains(logs, `"request_id":"`+rid+`"`) {
		t.Errorf("log lines lack the request id %s", rid)
	}
}

func TestRequestLogHasNoQueryValuesOrCredentials(t *testing.T) {
	s := newBare(t)
	rec := s.get(t, "/?basic_token=CANARYQUERY&x=1", func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer CANARYAUTH")
		r.Header.Set("Cookie", "__Host-keyport=CANARYCOOKIE")
		r.Header.Set("X-Request-Id", "CANARYRID")
	})
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	logs := s.log.String()
	for _, c := range []string{"CANARYQUERY", "CANARYAUTH", "CANARYCOOKIE", "CANARYRID", "basic_token"} {
		if strings.Contains(logs, c) {
			t.Errorf("log contains %q:\n%s", c, logs)
		}
	}
	for _, want := range []string{`"method":"GET"`, `"route":"/"`, `"status":200`, `"duration_ms":`, `"bytes_out":`, `"request_id":"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if rec.Header().Get("X-Request-Id") == "CANARYRID" {
		t.Error("a client-supplied request id was adopted")
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	s := newBare(t)
	s.e.GET("/test/panic", func(echo.Context) error { panic("x") })
	assets, _ := static.Load()
	for _, path := range []string{"/", "/healthz", "/metrics", "/missing", "/test/panic", assets.URL("app.css")} {
		t.Run(path, func(t *testing.T) {
			rec := s.get(t, path)
			h := rec.Header()
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline or eval: %q", csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("headers = %v", h)
			}
		})
	}
}

func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	s := newBare(t)
	for _, path := range []string{"/", "/missing"} {
		d := doc(t, s.get(t, path))
		d.Find("script").Each(func(_ int, sel *goquery.Selection) {
			if _, ok := sel.Attr("src"); !ok {
				t.Errorf("%s has an inline script", path)
			}
		})
		if d.Find("style, [style]").Length() > 0 {
			t.Errorf("%s has inline style", path)
		}
	}
}

func TestForwardedForIgnoredUnlessFromTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		remote  string
		wantIP  string
	}{
		{"no proxies configured", nil, "127.0.0.1:5000", `"ip":"127.0.0.1"`},
		{"peer is not a trusted proxy", []string{"10.1.0.0/16"}, "127.0.0.1:5000", `"ip":"127.0.0.1"`},
		{"peer is a trusted proxy", []string{"127.0.0.0/8"}, "127.0.0.1:5000", `"ip":"203.0.113.9"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newBare(t, tc.trusted...)
			s.get(t, "/healthz", func(r *http.Request) {
				r.RemoteAddr = tc.remote
				r.Header.Set("X-Forwarded-For", "203.0.113.9")
				r.Header.Set("X-Real-Ip", "198.51.100.7")
			})
			if logs := s.log.String(); !strings.Contains(logs, tc.wantIP) {
				t.Errorf("want %s in log:\n%s", tc.wantIP, logs)
			}
		})
	}
}

func TestStaticAssetsServedImmutableByHash(t *testing.T) {
	s := newBare(t)
	assets, _ := static.Load()
	for _, name := range []string{"app.css", "app.js", "vendor/htmx.min.js", "vendor/pico.min.css"} {
		url := assets.URL(name)
		rec := s.get(t, url)
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Fatalf("%s: status %d, %d bytes", url, rec.Code, rec.Body.Len())
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("%s: Cache-Control = %q", url, cc)
		}
		stale := strings.Replace(url, "/static/", "/static/0000", 1)
		if rec := s.get(t, stale); rec.Code != http.StatusNotFound {
			t.Errorf("%s with a wrong hash: status %d, want 404", name, rec.Code)
		}
	}
	d := doc(t, s.get(t, "/"))
	d.Find("link[href], script[src]").Each(func(_ int, sel *goquery.Selection) {
		u, ok := sel.Attr("href")
		if !ok {
			u, _ = sel.Attr("src")
		}
		if strings.HasPrefix(u, "data:") {
			return
		}
		if rec := s.get(t, u); rec.Code != http.StatusOK {
			t.Errorf("page references %s, which answers %d", u, rec.Code)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	s := newBare(t)
	s.e.POST("/test/echo", func(c echo.Context) error { return c.String(200, c.FormValue("a")) })
	req := httptest.NewRequest(http.MethodPost, "/test/echo", strings.NewReader("a="+strings.Repeat("x", 200<<10)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
}

func TestHomeLinksToConnect(t *testing.T) {
	s := newBare(t)
	d := doc(t, s.get(t, "/"))
	if href, _ := d.Find(`[data-testid="connect-link"]`).Attr("href"); href != "/connect" {
		t.Errorf("connect link = %q", href)
	}
	if !strings.Contains(d.Find("footer").Text(), "test") {
		t.Error("footer lacks the version")
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	s := newBare(t)
	s.get(t, "/")
	s.get(t, "/missing-1")
	body := s.get(t, "/metrics").Body.String()
	for _, want := range []string{`keyport_http_requests_total{method="GET",route="/",status="200"} 1`,
		`route="unmatched",status="404"`, "keyport_http_request_duration_seconds_bucket"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "missing-1") {
		t.Error("a raw path became a metrics label")
	}
}
