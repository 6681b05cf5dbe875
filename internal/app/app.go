// Package app wires Keyport from its configuration, in two layers.
// NewServices builds the domain services (audit writer, CXone client,
// connections, keys, reviewers) with no HTTP: `keyport reconcile` uses only
// that. New builds the portal on top of them (session stores, metrics,
// assets, the router): `keyport serve`, `keyport dev` and the handler tests
// all build it through New, so there is exactly one wiring of each.
package app

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/handlers"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/metrics"
	"github.com/keyport/keyport/internal/notify"
	"github.com/keyport/keyport/internal/oidc"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/static"
)

// Reviewer sessions are shorter-lived than admins' (issue: idle 15 min).
const (
	reviewerIdle     = 15 * time.Minute
	reviewerAbsolute = 8 * time.Hour
)

// Options are the inputs of NewServices and New.
type Options struct {
	Config config.Config
	Log    *slog.Logger
	Pool   *pgxpool.Pool
	// ReadPool, if set, is a streaming replica the reviewers' reads go to
	// (KEYPORT_DATABASE_READ_URL); ReplicaLag is when their pages say "as
	// of" (0: audit.ReplicaLag); ReplicaCheck is how long one look at the
	// replica's state is reused (0: a second; tests shorten both).
	ReadPool     *pgxpool.Pool
	ReplicaLag   time.Duration
	ReplicaCheck time.Duration
	Version      string
	// CheckpointInterval is how often the audit chain head is signed (portal).
	CheckpointInterval time.Duration
	// RateLimit is connects/creates per minute per IP and per session (portal; 0: default).
	RateLimit int
	// ExportRateLimit is each reviewer's exports per minute (0: ratelimit.DefaultExportsPerMinute).
	ExportRateLimit int
	// CXone, if set, adjusts the CXone client's configuration (tests shorten
	// timeouts and backoff).
	CXone func(*cxone.Config)
	// Reviewer sets the reviewers' sign-in thresholds and clock (zero: defaults).
	Reviewer reviewer.Options
	// SinkOptions tune audit streaming (zero: defaults; tests shorten them).
	SinkOptions auditsink.Options
	// NotifyRoots replaces the system's roots for notification targets
	// (tests; nil: the system's, which SSL_CERT_FILE extends).
	NotifyRoots *x509.CertPool
}

// App is a wired portal: the domain services and the HTTP layer over them.
type App struct {
	*Services
	Echo             *echo.Echo
	AdminSessions    *session.Store
	ReviewerSessions *session.Store
	o                Options
}

// New builds the portal: the services (NewServices), then the session
// stores, metrics, assets and router.
func New(o Options) (*App, error) {
	svc, err := NewServices(o)
	if err != nil {
		return nil, err
	}
	cfg := o.Config
	adminStore, err := session.New(o.Pool, cfg.SessionKey, cfg.EncryptionKey, session.Options{
		Kind: session.Admin, Cookie: "keyport", Secure: cfg.CookieSecure, Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute})
	if err != nil {
		return nil, err
	}
	reviewerStore, err := ReviewerSessions(o.Pool, cfg)
	if err != nil {
		return nil, err
	}
	assets, err := static.Load()
	if err != nil {
		return nil, err
	}
	reg, httpMetrics := metrics.NewRegistry(o.Pool)
	reg.MustRegister(metrics.AuditOutcomeFailures(svc.Audit.OutcomeFailures), metrics.AuditNoteFailures(svc.Audit.NoteFailures),
		svc.Keys.Policies().Collector(), svc.NotifyLog.Collector())
	if svc.Sinks != nil {
		reg.MustRegister(svc.Sinks.Collector())
	}
	e := handlers.New(handlers.Deps{
		Log:              o.Log,
		Assets:           assets,
		Version:          o.Version,
		TrustedProxies:   cfg.TrustedProxies,
		Metrics:          httpMetrics,
		Gatherer:         reg,
		Audit:            svc.Audit,
		AdminSessions:    adminStore,
		ReviewerSessions: reviewerStore,
		Conns:            svc.Conns,
		Keys:             svc.Keys,
		Reviewers:        svc.Reviewers,
		Trail:            svc.Trail,
		SinkHealth:       func(ctx context.Context) ([]auditsink.Health, error) { return auditsink.Read(ctx, o.Pool) },
		NotifyLog:        notifyLog(o.Pool),
		Ready:            ready(o.Pool),
		Limiter:          svc.Limiter,
		ExportLimiter:    svc.ExportLimiter,
		OIDC:             newOIDC(cfg.OIDC, o.Log),
	})
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 5 * time.Minute
	}
	return &App{Services: svc, Echo: e, AdminSessions: adminStore, ReviewerSessions: reviewerStore, o: o}, nil
}

// newOIDC builds the reviewers' OIDC sign-in when it is configured and tries
// discovery once: a provider that does not answer is a warning (logged by
// Discover), not a failed start; the sign-in button answers 503 and tries
// again until it does.
func newOIDC(c config.OIDC, log *slog.Logger) *oidc.Client {
	if !c.Enabled() {
		return nil
	}
	client := oidc.New(oidc.Config{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
		Scopes: c.Scopes, GroupsClaim: c.GroupsClaim, ReviewerGroups: c.ReviewerGroups, Name: c.Name, Log: log})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = client.Discover(ctx) // logged; retried lazily
	return client
}

// notifyLog reads the latest 20 notifications delivered.
func notifyLog(pool *pgxpool.Pool) func(context.Context) ([]notify.Delivery, error) {
	return func(ctx context.Context) ([]notify.Delivery, error) {
		ds, err := db.New(pool).RecentDeliveries(ctx, 20)
		out := make([]notify.Delivery, len(ds))
		for i, d := range ds {
			out[i] = notify.Delivery{Target: d.Target, ID: d.NotificationID, Event: d.Event, AuditEventID: d.AuditEventID, At: d.DeliveredAt}
		}
		return out, err
	}
}

// ready is the portal's readiness check: the database answers and its schema
// is the one this binary expects.
func ready(pool *pgxpool.Pool) func(context.Context) error {
	return func(ctx context.Context) error {
		st, err := db.Status(ctx, pool)
		if err != nil {
			return kp.Wrap(kp.Unavailable, err, "database unreachable")
		}
		if !st.UpToDate() {
			return kp.Errorf(kp.Unavailable, "database schema out of date")
		}
		return nil
	}
}

// Handler is the portal's HTTP handler.
func (a *App) Handler() http.Handler { return a.Echo }

// RunBackground runs the periodic jobs (audit checkpoints, expired-session
// cleanup) until ctx ends, then writes a final checkpoint.
func (a *App) RunBackground(ctx context.Context) {
	var sinks sync.WaitGroup
	defer sinks.Wait() // the pool closes after RunBackground: the sinks stop first
	if a.Sinks != nil {
		sinks.Add(1)
		go func() {
			defer sinks.Done()
			// A sink never holds up the portal: its cursor rows are made
			// here, retried until the database answers.
			for ctx.Err() == nil {
				if err := a.Sinks.Prepare(ctx); err != nil {
					a.o.Log.WarnContext(ctx, "audit sinks: cannot create their cursors; retrying", "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(5 * time.Second):
					}
					continue
				}
				a.Sinks.Run(ctx)
				return
			}
		}()
	}
	go func() {
		// The months ahead exist before anyone appends in them: at start,
		// then daily.
		ensure := func(ctx context.Context) (int64, error) {
			return 0, audit.EnsurePartitions(ctx, a.o.Pool, time.Now())
		}
		if _, err := ensure(ctx); err != nil && ctx.Err() == nil {
			a.o.Log.WarnContext(ctx, "create audit partitions ahead", "err", err)
		}
		a.every(ctx, 24*time.Hour, "create audit partitions ahead", ensure)
	}()
	sinks.Add(1)
	go func() {
		defer sinks.Done()
		a.Notes.Run(ctx) // the keys page's notes are cached only while it listens
	}()
	go a.every(ctx, 10*time.Minute, "delete expired admin sessions", a.AdminSessions.Cleanup)
	go a.every(ctx, 10*time.Minute, "delete expired reviewer sessions", a.ReviewerSessions.Cleanup)
	go a.every(ctx, 10*time.Minute, "delete idle rate limits", a.Limiter.Cleanup)
	// Keys age between lists: look again at what each tenant last listed
	// (every instance may; the database records each start and end once).
	go a.every(ctx, time.Minute, "record failing audit sinks", func(ctx context.Context) (int64, error) {
		return auditsink.NoteFailing(ctx, a.o.Pool, a.Audit, a.o.Config.SinkFailingAfter, time.Now())
	})
	go a.every(ctx, 15*time.Minute, "sync key policy violations", func(ctx context.Context) (int64, error) {
		return 0, a.Keys.Policies().Sweep(ctx)
	})
	a.every(ctx, a.o.CheckpointInterval, "periodic audit checkpoint failed", func(ctx context.Context) (int64, error) {
		_, err := a.Audit.Checkpoint(ctx)
		return 0, err
	})
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := a.Audit.Checkpoint(cctx); err != nil {
		a.o.Log.Error("final audit checkpoint failed", "err", err)
	}
}

// every runs fn every interval until ctx ends; a failure is logged and the
// next round tries again.
func (a *App) every(ctx context.Context, interval time.Duration, what string, fn func(context.Context) (int64, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := fn(ctx); err != nil && ctx.Err() == nil {
				a.o.Log.WarnContext(ctx, what, "err", err)
			}
		}
	}
}

// ReviewerSessions is the reviewers' session store (the portal's, and
// `keyport reviewer sessions`'s).
func ReviewerSessions(pool *pgxpool.Pool, cfg config.Config) (*session.Store, error) {
	return session.New(pool, cfg.SessionKey, cfg.EncryptionKey, session.Options{
		Kind: session.Reviewer, Cookie: "keyport-audit", Secure: cfg.CookieSecure, Idle: reviewerIdle, Absolute: reviewerAbsolute})
}
