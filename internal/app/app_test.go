package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/app"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// options loads a valid configuration for a database at url and opens a pool on it.
func options(t *testing.T, url string) app.Options {
	t.Helper()
	env := map[string]string{"KEYPORT_DATABASE_URL": url, "KEYPORT_SESSION_KEY": randomKey(),
		"KEYPORT_ENCRYPTION_KEY": randomKey(), "KEYPORT_AUDIT_KEY": randomKey()}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := config.Register(fs, func(k string) string { return env[k] }).Load()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return app.Options{Config: cfg, Log: slog.New(slog.DiscardHandler), Pool: pool, Version: "test"}
}

// The services need no session key: they serve no HTTP (keyport reconcile).
func TestNewServicesWithoutTheHTTPConfiguration(t *testing.T) {
	o := options(t, pgtest.NewDatabase(t))
	o.Config.SessionKey, o.Config.CookieSecure, o.Config.TrustedProxies = keyring.Ring{}, false, nil
	svc, err := app.NewServices(o)
	if err != nil {
		t.Fatalf("NewServices: %v", err)
	}
	if svc.Audit == nil || svc.CXone == nil || svc.Conns == nil || svc.Keys == nil || svc.Reviewers == nil {
		t.Fatalf("a service is missing: %+v", svc)
	}
	settled, remaining, err := svc.Keys.ReconcileAll(context.Background())
	if err != nil || settled != 0 || remaining != 0 {
		t.Fatalf("ReconcileAll on a fresh database = %d, %d, %v; want 0, 0, nil", settled, remaining, err)
	}
}

func TestPortalIsReadyOnlyWithTheCurrentSchema(t *testing.T) {
	for _, tc := range []struct {
		name       string
		url        func(testing.TB) string
		wantStatus int
		wantBody   string
	}{
		{"a migrated database is ready", pgtest.NewDatabase, http.StatusOK, "ready\n"},
		{"an unmigrated database is not", pgtest.NewEmptyDatabase, http.StatusServiceUnavailable, "database schema out of date\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := app.New(options(t, tc.url(t)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Errorf("GET /readyz = %d %q, want %d %q", rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}
