package auditsink

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	lagEvents = prometheus.NewDesc("keyport_audit_sink_lag_events",
		"Audit events not yet acknowledged by the sink.", []string{"sink"}, nil)
	lagSeconds = prometheus.NewDesc("keyport_audit_sink_lag_seconds",
		"Age of the oldest event the sink has not acknowledged (0 when it is up to date).", []string{"sink"}, nil)
	failing = prometheus.NewDesc("keyport_audit_sink_consecutive_failures",
		"Failed delivery attempts since the sink last acknowledged a batch (any instance).", []string{"sink"}, nil)
	failures = prometheus.NewDesc("keyport_audit_sink_failures_total",
		"Failed delivery attempts by this instance since it started.", []string{"sink"}, nil)
	delivering = prometheus.NewDesc("keyport_audit_sink_delivering",
		"1 when this instance is the one delivering the sink.", []string{"sink"}, nil)
)

// Collector reports each sink's lag and failures, read from the cursors
// on each scrape (two short queries).
func (s *Streamer) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Streamer }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lagEvents, lagSeconds, failing, failures, delivering} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs, err := c.s.Health(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lagEvents, err)
		return
	}
	for _, h := range hs {
		if _, ours := c.s.stats[h.Name]; !ours {
			continue // a sink another instance configured
		}
		active := 0.0
		if h.Active {
			active = 1
		}
		ch <- prometheus.MustNewConstMetric(lagEvents, prometheus.GaugeValue, float64(h.LagEvents), h.Name)
		ch <- prometheus.MustNewConstMetric(lagSeconds, prometheus.GaugeValue, h.LagSeconds, h.Name)
		ch <- prometheus.MustNewConstMetric(failing, prometheus.GaugeValue, float64(h.Failures), h.Name)
		ch <- prometheus.MustNewConstMetric(failures, prometheus.CounterValue, float64(h.Failed), h.Name)
		ch <- prometheus.MustNewConstMetric(delivering, prometheus.GaugeValue, active, h.Name)
	}
}
