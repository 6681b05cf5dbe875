// Package app wires Keyport's portal from its configuration: the audit
// writer, the session stores, the CXone client, the domain services and the
// router. `keyport serve`, `keyport dev` and the handler tests all build the
// portal through New, so there is exactly one wiring.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/handlers"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/metrics"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/static"
)

// Reviewer sessions are shorter-lived than admins' (issue: idle 15 min).
const (
	reviewerIdle     = 15 * time.Minute
	reviewerAbsolute = 8 * time.Hour
)

// Options are New's inputs.
type Options struct {
	Config  config.Config
	Log     *slog.Logger
	Pool    *pgxpool.Pool
	Version string
	// CheckpointInterval is how often the audit chain head is signed.
	CheckpointInterval time.Duration
	// RateLimit is connects/creates per minute per IP and per session (0: default).
	RateLimit int
	// CXone, if set, adjusts the CXone client's configuration (tests shorten
	// timeouts and backoff).
	CXone func(*cxone.Config)
	// Reviewer sets the reviewers' sign-in thresholds and clock (zero: defaults).
	Reviewer reviewer.Options
}

// App is a wired portal.
type App struct {
	Echo             *echo.Echo
	Audit            *audit.Writer
	AdminSessions    *session.Store
	ReviewerSessions *session.Store
	Conns            *connection.Service
	Keys             *keys.Service
	o                Options
}

// New builds the portal.
func New(o Options) (*App, error) {
	cfg := o.Config
	auditKeys, err := audit.DeriveKeys(cfg.AuditKey)
	if err != nil {
		return nil, fmt.Errorf("KEYPORT_AUDIT_KEY: %w", err)
	}
	trail := audit.NewWriter(o.Pool, auditKeys, o.Log)
	adminStore, err := session.New(o.Pool, cfg.SessionKey, cfg.EncryptionKey, session.Options{
		Kind: session.Admin, Cookie: "keyport", Secure: cfg.CookieSecure, Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute})
	if err != nil {
		return nil, err
	}
	reviewerStore, err := session.New(o.Pool, cfg.SessionKey, cfg.EncryptionKey, session.Options{
		Kind: session.Reviewer, Cookie: "keyport-audit", Secure: cfg.CookieSecure, Idle: reviewerIdle, Absolute: reviewerAbsolute})
	if err != nil {
		return nil, err
	}
	cxCfg := cxone.Config{URLTemplate: cfg.CXoneURLTemplate, JWKSURL: cfg.CXoneJWKSURL,
		UserAgent: "Keyport/" + o.Version, Logger: o.Log}
	if o.CXone != nil {
		o.CXone(&cxCfg)
	}
	cx, err := cxone.NewClient(cxCfg)
	if err != nil {
		return nil, fmt.Errorf("CXone client: %w", err)
	}
	conns, err := connection.New(o.Pool, cx, trail, cfg.EncryptionKey, o.Log)
	if err != nil {
		return nil, err
	}
	keySvc := keys.New(o.Pool, conns, trail, o.Log, time.Now, time.Duration(cfg.StaleAfterDays)*24*time.Hour)
	totp, err := reviewer.NewTOTPSealer(cfg.EncryptionKey)
	if err != nil {
		return nil, err
	}
	ro := o.Reviewer
	if ro.Log == nil {
		ro.Log = o.Log
	}
	reviewers := reviewer.New(o.Pool, trail, totp, ro)
	assets, err := static.Load()
	if err != nil {
		return nil, err
	}
	reg, httpMetrics := metrics.NewRegistry(o.Pool)
	reg.MustRegister(metrics.AuditOutcomeFailures(trail.OutcomeFailures), metrics.AuditNoteFailures(trail.NoteFailures))
	e := handlers.New(handlers.Deps{
		Log:              o.Log,
		Pool:             o.Pool,
		Assets:           assets,
		Version:          o.Version,
		TrustedProxies:   cfg.TrustedProxies,
		Metrics:          httpMetrics,
		Gatherer:         reg,
		Audit:            trail,
		AdminSessions:    adminStore,
		ReviewerSessions: reviewerStore,
		Conns:            conns,
		Keys:             keySvc,
		Reviewers:        reviewers,
		RateLimit:        o.RateLimit,
	})
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 5 * time.Minute
	}
	return &App{Echo: e, Audit: trail, AdminSessions: adminStore, ReviewerSessions: reviewerStore, Conns: conns, Keys: keySvc, o: o}, nil
}

// Handler is the portal's HTTP handler.
func (a *App) Handler() http.Handler { return a.Echo }

// RunBackground runs the periodic jobs (audit checkpoints, expired-session
// cleanup) until ctx ends, then writes a final checkpoint.
func (a *App) RunBackground(ctx context.Context) {
	go a.AdminSessions.RunCleanup(ctx, 10*time.Minute)
	a.Audit.RunCheckpoints(ctx, a.o.CheckpointInterval)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := a.Audit.Checkpoint(cctx); err != nil {
		a.o.Log.Error("final audit checkpoint failed", "err", err)
	}
}
