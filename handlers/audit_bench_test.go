package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/app"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
)

// vmKB reads one "VmXXX:   123 kB" line of /proc/self/status.
func vmKB(tb testing.TB, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status on this system")
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := bytes.Fields(sc.Bytes()); len(f) >= 2 && string(f[0]) == field+":" {
			n, _ := strconv.ParseInt(string(f[1]), 10, 64)
			return n
		}
	}
	tb.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// BenchmarkExport1MRSS exports 1 M events as CSV and as JSON lines through
// the real portal (server and client in this process) and reports the
// process's peak RSS growth during the export (VmHWM after resetting it,
// minus VmRSS before): the export streams, so it must stay under 30 MB.
//
//	go test -run '^$' -bench Export1MRSS -benchtime 1x ./handlers
func BenchmarkExport1MRSS(b *testing.B) {
	const events = 1_000_000
	url := pgtest.NewDatabase(b)
	env := map[string]string{"KEYPORT_DATABASE_URL": url, "KEYPORT_SESSION_KEY": randomKey(),
		"KEYPORT_ENCRYPTION_KEY": randomKey(), "KEYPORT_AUDIT_KEY": randomKey(), "KEYPORT_COOKIE_SECURE": "false"}
	cfg, err := config.Register(newFlagSet(), func(k string) string { return env[k] }).Load()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	a, err := app.New(app.Options{Config: cfg, Log: logging.New(io.Discard, "json", nil), Pool: pool, Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	if _, err := audit.Seed(ctx, pool, events, 5, time.Now()); err != nil {
		b.Fatal(err)
	}
	svc := reviewer.New(pool, a.Audit, nil, reviewer.Options{Params: reviewer.Params{Memory: 64, Time: 1, Threads: 1}})
	if _, err := svc.Add(ctx, audit.Actor{Kind: kp.ActorSystem}, "bench", secret.New(reviewerPassword), false); err != nil {
		b.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/auditor/login", strings.NewReader(neturl.Values{"username": {"bench"}, "password": {reviewerPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	res, err := client.Do(req)
	if err != nil || res.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %v %v", res, err)
	}
	res.Body.Close()
	for b.Loop() {
		for _, format := range []string{"csv", "jsonl"} {
			debug.FreeOSMemory() // a low, honest baseline: return the seed's garbage first
			before := vmKB(b, "VmRSS")
			// Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
			if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
				b.Skipf("cannot reset the RSS peak: %v", err)
			}
			start := time.Now()
			res, err := client.Get(srv.URL + "/audit/export." + format)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				b.Fatalf("export: %d, %v", res.StatusCode, err)
			}
			growth := float64(vmKB(b, "VmHWM")-before) / 1024
			b.ReportMetric(growth, "MB-rss-growth-"+format)
			b.Logf("%s: %d bytes in %s, RSS before %d MB, peak growth %.1f MB", format, n,
				time.Since(start).Round(time.Millisecond), before/1024, growth)
			if growth > 30 {
				b.Errorf("%s export grew RSS by %.1f MB, budget 30 MB", format, growth)
			}
		}
	}
}
