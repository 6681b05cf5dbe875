package config

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

// setTrail sets the settings of the trail's copies and reads: the sinks,
// retention and the reviewers' read replica.
func (c *Config) setTrail(env, v string) (err error) {
	switch env {
	case AuditRetain:
		c.AuditRetain, err = retention(v)
	case DatabaseReadURL:
		if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
			return errors.New("want a postgres:// or postgresql:// URL, or empty")
		}
		c.DatabaseReadURL = secret.New(v)
	default:
		c.setSinks(env, v)
	}
	return err
}

// retention parses KEYPORT_AUDIT_RETAIN: whole days ("400d"), at least
// 31 so the current and the last month always stay; "" is keep everything.
func retention(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
	if err != nil || !strings.HasSuffix(v, "d") || d < 31 || d > 36500 {
		return 0, errors.New("want whole days from 31d to 36500d, e.g. 400d, or empty to keep everything")
	}
	return time.Duration(d) * 24 * time.Hour, nil
}

// setSinks keeps the audit sinks' settings as given: internal/auditsink
// parses and checks them at start (config imports no service).
func (c *Config) setSinks(env, v string) {
	if env == AuditSinks {
		c.AuditSinks = v
	} else {
		c.AuditSinkTokenFile = v
	}
}
