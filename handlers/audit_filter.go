package handlers

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/kp"
)

// auditFilterParams are the event list's query parameters, in the order the
// form shows them. The same names drive the list, its pages, its exports and
// the audit.view / audit.export records of what was looked at.
var auditFilterParams = []string{"from", "to", "tenant", "area", "actor", "action", "outcome", "key", "request", "q"}

// auditTimeLayouts are accepted for from/to: a datetime-local input's
// value, with or without seconds, RFC 3339, or a bare date. Times without a
// zone are UTC, as the list shows them.
var auditTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, time.DateOnly}

// auditFilter is a parsed filter with the raw values it came from.
type auditFilter struct {
	kp.AuditFilter
	raw map[string]string // non-empty parameters only
}

// parseAuditFilter reads the filter from a query string. Unknown actions or
// outcomes and unreadable times are kp.Invalid, so a typo never silently
// shows the unfiltered trail.
func parseAuditFilter(q url.Values) (auditFilter, error) {
	f := auditFilter{raw: map[string]string{}}
	for _, k := range auditFilterParams {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			if len(v) > 200 {
				return f, kp.Errorf(kp.Invalid, "The %s filter is longer than 200 characters.", k)
			}
			f.raw[k] = v
		}
	}
	var err error
	if f.From, err = parseAuditTime(f.raw["from"], false); err != nil {
		return f, err
	}
	if f.To, err = parseAuditTime(f.raw["to"], true); err != nil {
		return f, err
	}
	f.TenantID = f.raw["tenant"]
	f.Region = kp.Region(strings.ToLower(f.raw["area"]))
	f.ActorUserID = f.raw["actor"]
	f.Action = kp.Action(f.raw["action"])
	if f.Action != "" && !slices.Contains(kp.Actions, kp.Action(f.Action)) {
		return f, kp.Errorf(kp.Invalid, "There is no action %q.", f.Action)
	}
	f.Outcome = kp.Outcome(f.raw["outcome"])
	if f.Outcome != "" && !slices.Contains(kp.Outcomes, kp.Outcome(f.Outcome)) {
		return f, kp.Errorf(kp.Invalid, "There is no outcome %q.", f.Outcome)
	}
	f.KeyID = f.raw["key"]
	f.RequestID = f.raw["request"]
	f.Text = f.raw["q"]
	return f, nil
}

// parseAuditTime parses a from/to value; a bare date as an upper bound means
// the end of that day, so to=2026-01-31 includes the 31st.
func parseAuditTime(s string, upper bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range auditTimeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			if upper && l == time.DateOnly {
				t = t.AddDate(0, 0, 1)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, kp.Errorf(kp.Invalid, "%q is not a time Keyport understands. Use 2026-01-31 or 2026-01-31T14:30.", s)
}

// query returns the filter as URL parameters plus extra ones (for pages).
func (f auditFilter) query(extra ...string) url.Values {
	v := url.Values{}
	for k, x := range f.raw {
		v.Set(k, x)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// url is path with the filter's query.
func (f auditFilter) url(path string, extra ...string) string {
	if q := f.query(extra...).Encode(); q != "" {
		return path + "?" + q
	}
	return path
}

// record is the filter as the audit.view / audit.export events store it.
func (f auditFilter) record(extra ...string) map[string]string {
	m := make(map[string]string, len(f.raw)+len(extra)/2)
	for k, v := range f.raw {
		m[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			m[extra[i]] = extra[i+1]
		}
	}
	return m
}

// cursor reads a before/after page cursor (an event id).
func cursor(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, kp.Errorf(kp.Invalid, "The page cursor %q is not an event id.", s)
	}
	return n, nil
}
