// Package metrics holds Keyport's Prometheus collectors: HTTP request counts
// and durations by route and status, and the pgx pool's statistics. The
// registry is built in main and passed in; nothing registers globally.
package metrics

import (
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// HTTP records one observation per request.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// the HTTP collectors and, when pool is not nil, the pool's statistics.
func NewRegistry(pool *pgxpool.Pool) (*prometheus.Registry, *HTTP) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyport_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyport_http_request_duration_seconds", Help: "HTTP request duration by method, route pattern and status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route", "status"}),
	}
	reg.MustRegister(h.requests, h.duration)
	if pool != nil {
		reg.MustRegister(poolCollector{pool})
	}
	return reg, h
}

// Observe records a finished request. route is the pattern, never the raw
// path, so the label set stays small and ids never become labels.
func (h *HTTP) Observe(method, route string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	h.requests.WithLabelValues(method, route, s).Inc()
	h.duration.WithLabelValues(method, route, s).Observe(d.Seconds())
}

var (
	poolAcquired  = prometheus.NewDesc("keyport_db_pool_acquired_conns", "Connections currently in use.", nil, nil)
	poolIdle      = prometheus.NewDesc("keyport_db_pool_idle_conns", "Idle connections.", nil, nil)
	poolTotal     = prometheus.NewDesc("keyport_db_pool_total_conns", "Open connections.", nil, nil)
	poolMax       = prometheus.NewDesc("keyport_db_pool_max_conns", "Maximum pool size.", nil, nil)
	poolAcquires  = prometheus.NewDesc("keyport_db_pool_acquires_total", "Successful connection acquisitions.", nil, nil)
	poolWait      = prometheus.NewDesc("keyport_db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", nil, nil)
	poolEmpty     = prometheus.NewDesc("keyport_db_pool_empty_acquires_total", "Acquisitions that had to wait for a connection.", nil, nil)
	poolEmptyWait = prometheus.NewDesc("keyport_db_pool_empty_acquire_wait_seconds_total",
		"Time spent waiting because the pool had no idle connection (pool too small when it grows fast).", nil, nil)
)

type poolCollector struct{ pool *pgxpool.Pool }

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolWait, poolEmpty, poolEmptyWait} {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(poolEmpty, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolEmptyWait, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
}

// AuditOutcomeFailures exports the count of audit outcome writes that
// failed: each is an intent left open for reconciliation, worth an alert.
func AuditOutcomeFailures(count func() int64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "keyport_audit_outcome_failures_total",
		Help: "Audit outcome records that could not be written (their intents stay open).",
	}, func() float64 { return float64(count()) })
}

// AuditNoteFailures exports the count of best-effort audit notes (denied
// or failed requests refused anyway, logouts, steps already taken) that
// could not be written.
func AuditNoteFailures(count func() int64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "keyport_audit_note_failures_total",
		Help: "Best-effort audit notes that could not be written.",
	}, func() float64 { return float64(count()) })
}
