package app

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/notescache"
	"github.com/keyport/keyport/internal/notify"
	"github.com/keyport/keyport/internal/ratelimit"
	"github.com/keyport/keyport/internal/reviewer"
)

// Services are Keyport's domain services, wired without HTTP: what the
// portal serves and what `keyport reconcile` runs.
type Services struct {
	Audit *audit.Writer
	CXone *cxone.Client
	Conns *connection.Service
	Keys  *keys.Service
	// Reviewers is the security reviewers' service, with the TOTP sealer.
	Reviewers *reviewer.Service
	// Trail is the audit trail's read side (reviewers' pages and exports).
	Trail *audit.Reader
	// Limiter is the rate limit every instance shares (connect, create,
	// look-up, rotate).
	Limiter *ratelimit.Limiter
	// ExportLimiter bounds each reviewer's exports.
	ExportLimiter *ratelimit.Limiter
	// Instance is this process's instance lock (db.Instance); Close
	// releases it after the drain.
	Instance *db.Instance
	// Sinks streams the trail to KEYPORT_AUDIT_SINKS and KEYPORT_NOTIFY's
	// targets (nil when none).
	Sinks *auditsink.Streamer
	// Notes caches the keys page's notes while its Run listens for
	// changes (RunBackground runs it).
	Notes *notescache.Cache
	// NotifyLog counts and keeps the notifications delivered.
	NotifyLog *notify.Log
}

// Close releases what the services hold outside the pool.
func (s *Services) Close() { s.Instance.Release(context.Background()) }

// NewServices builds the domain services on o.Pool from o.Config (the
// database URL is not read: the pool is open) and o.Log, o.Version, o.CXone
// and o.Reviewer. It reads the encryption and audit keys, the CXone URLs and
// the stale-key threshold; never the session key or anything of HTTP.
func NewServices(o Options) (*Services, error) {
	cfg := o.Config
	auditKeys, err := audit.DeriveKeys(cfg.AuditKey)
	if err != nil {
		return nil, fmt.Errorf("KEYPORT_AUDIT_KEY: %w", err)
	}
	trail := audit.NewWriter(o.Pool, auditKeys, o.Log)
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
	ictx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	inst, err := db.HoldInstance(ictx, o.Pool)
	cancel()
	if err != nil {
		return nil, err
	}
	keySvc := keys.New(o.Pool, conns, trail, o.Log, time.Now, time.Duration(cfg.StaleAfterDays)*24*time.Hour, inst.Key)
	notes := notescache.New(o.Pool, o.Log, 0, nil)
	keySvc.CacheNotes(notes)
	totp, err := reviewer.NewTOTPSealer(cfg.EncryptionKey)
	if err != nil {
		return nil, err
	}
	ro := o.Reviewer
	if ro.Log == nil {
		ro.Log = o.Log
	}
	ro.LocalOff = ro.LocalOff || cfg.OIDC.LocalOff
	reviewers := reviewer.New(o.Pool, trail, totp, ro)
	nlog := notify.NewLog(func(ctx context.Context, target string, n *notify.Notification) {
		if err := db.New(o.Pool).RecordDelivery(ctx, db.Delivery{Target: target, NotificationID: n.ID, Event: n.Event,
			AuditEventID: n.AuditEventID, DeliveredAt: time.Now()}); err != nil {
			o.Log.WarnContext(ctx, "notify: record a delivery", "err", err)
		}
	})
	sinks, err := sinks(o, nlog)
	if err != nil {
		inst.Release(context.Background())
		return nil, err
	}
	return &Services{Audit: trail, CXone: cx, Conns: conns, Keys: keySvc, Reviewers: reviewers,
		Trail: newTrailReader(o, trail, reviewers.Now), Limiter: ratelimit.New(o.Pool, cmp.Or(o.RateLimit, cfg.RateLimit)),
		ExportLimiter: ratelimit.New(o.Pool, cmp.Or(o.ExportRateLimit, ratelimit.DefaultExportsPerMinute)),
		Instance:      inst, Sinks: sinks, NotifyLog: nlog, Notes: notes}, nil
}

// Notifications reads KEYPORT_NOTIFY and its secret files: its targets
// are delivered as audit sinks (internal/notify), each with its cursor.
func Notifications(o Options, log *notify.Log) ([]auditsink.Target, error) {
	cfg := o.Config
	sec, err := notify.ReadSecretFile("KEYPORT_NOTIFY_SECRET_FILE", cfg.NotifySecretFile)
	if err != nil {
		return nil, err
	}
	pw, err := notify.ReadSecretFile("KEYPORT_SMTP_PASSWORD_FILE", cfg.SMTPPasswordFile)
	if err != nil {
		return nil, err
	}
	owner := func(ctx context.Context, region, tenantID, keyID string) string {
		a, err := db.New(o.Pool).OwnerAddress(ctx, region, tenantID, keyID)
		if err != nil {
			o.Log.WarnContext(ctx, "notify: the key owner's address", "err", err)
		}
		return a
	}
	targets, err := notify.Parse(cfg.Notify, notify.Options{Secret: sec, Password: pw, PublicURL: cfg.PublicURL,
		OwnerEmail: owner, Roots: o.NotifyRoots, Log: log})
	if err != nil {
		return nil, fmt.Errorf("KEYPORT_NOTIFY: %w", err)
	}
	return targets, nil
}

// Sinks reads KEYPORT_AUDIT_SINKS and its token file; nil when no sink is
// configured. serve calls it before anything starts, so a bad list exits 2.
func Sinks(o Options) (*auditsink.Streamer, error) { return sinks(o, nil) }

func sinks(o Options, log *notify.Log) (*auditsink.Streamer, error) {
	tok, err := auditsink.ReadToken(o.Config.AuditSinkTokenFile)
	if err != nil {
		return nil, err
	}
	targets, err := auditsink.Parse(o.Config.AuditSinks, tok)
	if err != nil {
		return nil, fmt.Errorf("KEYPORT_AUDIT_SINKS: %w", err)
	}
	notes, err := Notifications(o, log)
	if err != nil {
		return nil, err
	}
	targets = append(targets, notes...)
	if len(targets) == 0 {
		return nil, nil
	}
	return auditsink.New(o.Pool, targets, o.Log, o.SinkOptions), nil
}

// newTrailReader is the reviewers' read side, on the replica when one is set.
func newTrailReader(o Options, w *audit.Writer, now func() time.Time) *audit.Reader {
	r := audit.NewReader(o.Pool, w, now, o.Log)
	r.SetReplica(o.ReadPool, o.ReplicaLag, o.ReplicaCheck)
	return r
}
