package notify

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Log is the delivery log: a counter per target and event for /metrics,
// and record, which keeps each accepted message for the Integrity page.
type Log struct {
	sent   *prometheus.CounterVec
	record func(ctx context.Context, target string, n *Notification)
}

// NewLog returns a Log; record may be nil.
func NewLog(record func(ctx context.Context, target string, n *Notification)) *Log {
	return &Log{record: record, sent: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyport_notifications_sent_total",
		Help: "Notifications a target accepted, by target and event (a redelivery counts again).",
	}, []string{"target", "event"})}
}

// Collector exports the counters.
func (l *Log) Collector() prometheus.Collector { return l.sent }

func (l *Log) delivered(ctx context.Context, target string, n *Notification) {
	if l == nil {
		return
	}
	l.sent.WithLabelValues(target, n.Event).Inc()
	if l.record != nil {
		l.record(ctx, target, n)
	}
}

// Delivery is one entry of the delivery log.
type Delivery struct {
	Target, ID, Event string
	AuditEventID      int64
	At                time.Time
}
