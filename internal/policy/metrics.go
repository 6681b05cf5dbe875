package policy

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var violations = prometheus.NewDesc("keyport_policy_violations",
	"Open key policy violations, by tenant and rule, as of each tenant's last sighting.", []string{"tenant", "rule"}, nil)

// Collector exports the open violations (read from the database at each
// scrape, so every instance says the same).
func (s *Service) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Service }

func (collector) Describe(ch chan<- *prometheus.Desc) { ch <- violations }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.s.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(violations, err)
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(violations, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
