// Package auditsink streams the audit trail to copies outside PostgreSQL (a
// file, syslog over TCP or TLS, an HTTPS collector such as Splunk HEC), in
// id order, at least once. The trail in PostgreSQL stays the record: a sink
// that is down delays only its own copy, never an admin's action.
//
// Each sink has a cursor row (migration 011): the last id it acknowledged.
// One instance at a time delivers a given sink (a session advisory lock), so
// two portals never interleave; a crash between sending and advancing the
// cursor sends that batch again, which receivers see as duplicates of ids
// they already hold.
package auditsink

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/keyport/keyport/internal/audit"
)

// Sink sends batches of records to one receiver.
type Sink interface {
	// Send delivers batch (in id order; it may be empty, to let a sink
	// settle what it sent before) and answers the highest id the receiver
	// is known to hold. A sink that acknowledges each batch (a file after
	// fsync, HTTPS after a 2xx) answers the batch's last id; syslog, which
	// has no acknowledgement, answers what it wrote long enough ago on a
	// connection that is still open. An error means the receiver may lack
	// anything sent since the last acknowledged id: delivery resumes there.
	Send(ctx context.Context, batch []audit.ExportRecord) (acked int64, err error)
	Close() error
}

// Target is one configured sink: its stable name (the cursor's key), the
// URL shown to people (no credentials), and how to open it.
type Target struct {
	Name    string
	Display string
	Kind    string // "file", "syslog+tcp", "syslog+tls", "https", "splunk-hec"
	url     *url.URL
	token   string
	// roots replaces the system's trusted roots (tests; in production,
	// SSL_CERT_FILE adds a private CA).
	roots *x509.CertPool
	// open makes a Custom target's sink; fromHead starts its cursor at the
	// trail's head instead of its first event.
	open     func() (Sink, error)
	fromHead bool
}

// Custom is a target whose sink open makes, delivered like any other (a
// cursor, one instance at a time, retries with backoff): the notifications
// of internal/notify. Its cursor starts at the trail's head when it is made,
// so a new target hears of what happens next, not of the whole past.
func Custom(name, display, kind string, open func() (Sink, error)) (Target, error) {
	if !nameRE.MatchString(name) {
		return Target{}, fmt.Errorf("target %q: name %q must be lower-case letters, digits, '.', '_' or '-' (at most 64)", display, name)
	}
	return Target{Name: name, Display: display, Kind: kind, open: open, fromHead: true}, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Parse reads KEYPORT_AUDIT_SINKS: comma-separated sink URLs, each optionally
// ending in #name to name its cursor (otherwise the name is the kind and a
// hash of the URL, so it stays the same across restarts). token is the
// contents of KEYPORT_AUDIT_SINK_TOKEN_FILE ("" when unset): the HTTPS
// sinks' credential.
func Parse(list, token string) ([]Target, error) {
	var out []Target
	seen := map[string]bool{}
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		t, err := parseOne(raw, token)
		if err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("two sinks are named %q: name one with #name", t.Name)
		}
		seen[t.Name] = true
		out = append(out, t)
	}
	return out, nil
}

func parseOne(raw, token string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("sink %q: not a URL", redact(raw))
	}
	t := Target{url: u, token: token}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return Target{}, fmt.Errorf("sink %q: a file sink is file:///absolute/path", redact(raw))
		}
		t.Kind = "file"
	case "syslog+tcp", "syslog+tls":
		if u.Hostname() == "" || u.Port() == "" {
			return Target{}, fmt.Errorf("sink %q: a syslog sink is %s://host:port", redact(raw), u.Scheme)
		}
		t.Kind = u.Scheme
	case "https":
		t.Kind = "https"
	case "splunk-hec+https":
		t.Kind = "splunk-hec"
		if token == "" {
			return Target{}, fmt.Errorf("sink %q: Splunk HEC needs its token in KEYPORT_AUDIT_SINK_TOKEN_FILE", redact(raw))
		}
	case "http":
		return Target{}, fmt.Errorf("sink %q: audit events leave only over TLS: use https://", redact(raw))
	default:
		return Target{}, fmt.Errorf("sink %q: unknown kind %q (file, syslog+tcp, syslog+tls, https, splunk-hec+https)", redact(raw), u.Scheme)
	}
	if t.Kind == "https" || t.Kind == "splunk-hec" {
		if u.Hostname() == "" {
			return Target{}, fmt.Errorf("sink %q: no host", redact(raw))
		}
	}
	if u.User != nil {
		return Target{}, fmt.Errorf("sink %q: put credentials in KEYPORT_AUDIT_SINK_TOKEN_FILE, not in the URL", redact(raw))
	}
	t.Name = u.Fragment
	u.Fragment = ""
	// What people see (Integrity page, CLI, logs, the cursor row) leaves
	// out the query: a collector's credentials can sit there.
	shown := *u
	if shown.RawQuery != "" {
		shown.RawQuery = "…"
	}
	t.Display = shown.String()
	if t.Name == "" {
		sum := sha256.Sum256([]byte(t.Display))
		t.Name = strings.ReplaceAll(t.Kind, "+", "-") + "-" + hex.EncodeToString(sum[:4])
	}
	if !nameRE.MatchString(t.Name) {
		return Target{}, fmt.Errorf("sink %q: name %q must be lower-case letters, digits, '.', '_' or '-' (at most 64)", redact(raw), t.Name)
	}
	return t, nil
}

// redact drops user info and query from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// Open opens t's sink.
func (t Target) Open() (Sink, error) {
	if t.open != nil {
		return t.open()
	}
	switch t.Kind {
	case "file":
		return openFile(t.url.Path)
	case "syslog+tcp", "syslog+tls":
		return newSyslog(t.url.Host, t.Kind == "syslog+tls", t.roots), nil
	case "https", "splunk-hec":
		return newHTTPS(t.url, t.Kind == "splunk-hec", t.token, t.roots), nil
	}
	return nil, fmt.Errorf("sink %s: unknown kind %q", t.Name, t.Kind)
}

// ReadToken reads KEYPORT_AUDIT_SINK_TOKEN_FILE ("" when path is "").
func ReadToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("KEYPORT_AUDIT_SINK_TOKEN_FILE: %w", errors.Unwrap(err))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, "\r\n") {
		return "", errors.New("KEYPORT_AUDIT_SINK_TOKEN_FILE: the file must hold one token on one line")
	}
	return tok, nil
}
