// Package notify sends chosen audit events (a key created, deactivated or
// deleted, a secret lost, a policy violation starting, the trail failing
// verification) to KEYPORT_NOTIFY's targets: a signed JSON webhook, Slack,
// Microsoft Teams, e-mail (issue 25). Delivery rides internal/auditsink:
// each target is a sink with its own cursor in the trail, delivered by one
// instance at a time, retried with backoff, at least once, and never in an
// admin's way (the trail is written first; the message follows).
//
// A message carries an id's short form, the label, tenant, area, who, when
// and a link to the key's page: never a secret, a token or a fingerprint.
package notify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"strings"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink"
)

// Options are what the targets share.
type Options struct {
	Secret    string // the webhooks' HMAC key (KEYPORT_NOTIFY_SECRET_FILE's content)
	Password  string // the SMTP password (KEYPORT_SMTP_PASSWORD_FILE's content)
	PublicURL string // the portal's address, for links ("" = none)
	// OwnerEmail returns the address Keyport knows for a key's owner
	// ("" when CXone gave none); e-mail goes there too for key events.
	OwnerEmail func(ctx context.Context, region, tenantID, keyID string) string
	// Roots replaces the system's trusted roots (tests; in production,
	// SSL_CERT_FILE adds a private CA).
	Roots *x509.CertPool
	// Log counts and keeps what each target accepted (nil: nothing kept).
	Log *Log
}

// ReadSecretFile reads a secret file: its content without its final
// newline ("" when path is ""). what names the variable in errors.
func ReadSecretFile(what, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, errors.Unwrap(err))
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%s: the file is empty", what)
	}
	return s, nil
}

// Parse reads KEYPORT_NOTIFY: comma-separated targets, each optionally
// ending in #name to name its cursor (otherwise "notify-<kind>-<hash>").
func Parse(list string, o Options) ([]auditsink.Target, error) {
	var out []auditsink.Target
	seen := map[string]bool{}
	for _, raw := range strings.Split(list, ",") {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		t, err := parseOne(raw, o)
		if err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("two targets are named %q: name one with #name", t.Name)
		}
		seen[t.Name] = true
		out = append(out, t)
	}
	return out, nil
}

func parseOne(raw string, o Options) (auditsink.Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return auditsink.Target{}, fmt.Errorf("target %q: not a URL", redact(raw))
	}
	name := u.Fragment
	u.Fragment = ""
	kind, _, _ := strings.Cut(u.Scheme, "+")
	var open func() *sender
	switch u.Scheme {
	case "webhook+https", "slack+https", "teams+https":
		if u.Hostname() == "" {
			return auditsink.Target{}, fmt.Errorf("target %q: no host", redact(raw))
		}
		if u.User != nil {
			return auditsink.Target{}, fmt.Errorf("target %q: no credentials in the URL", redact(raw))
		}
		if kind == "webhook" && o.Secret == "" {
			return auditsink.Target{}, fmt.Errorf("target %q: a webhook needs its signing key in KEYPORT_NOTIFY_SECRET_FILE", redact(raw))
		}
		v := *u
		v.Scheme = "https"
		open = func() *sender { return newHook(kind, v.String(), o) }
	case "smtp", "smtps":
		m, err := parseMail(u, o)
		if err != nil {
			return auditsink.Target{}, fmt.Errorf("target %q: %w", redact(raw), err)
		}
		open = m.sender
		kind = "email"
	case "webhook+http", "slack+http", "teams+http":
		return auditsink.Target{}, fmt.Errorf("target %q: notifications leave only over TLS: use %s+https://", redact(raw), kind)
	default:
		return auditsink.Target{}, fmt.Errorf("target %q: unknown kind %q (webhook+https, slack+https, teams+https, smtp, smtps)", redact(raw), u.Scheme)
	}
	// What people see leaves out the query (a webhook's token can sit
	// there; an e-mail target's addresses stay).
	shown := *u
	if shown.RawQuery != "" && kind != "email" {
		shown.RawQuery = "…"
	}
	shown.User = nil
	display := shown.String()
	if name == "" {
		sum := sha256.Sum256([]byte(display))
		name = "notify-" + kind + "-" + hex.EncodeToString(sum[:4])
	}
	return auditsink.Custom(name, display, "notify-"+kind, func() (auditsink.Sink, error) {
		s := open()
		s.target, s.log = name, o.Log
		return s, nil
	})
}

// mailTarget is one smtp:// or smtps:// target.
type mailTarget struct {
	implicitTLS bool
	host, addr  string
	user        string
	from        string
	to          []string
	o           Options
}

func parseMail(u *url.URL, o Options) (*mailTarget, error) {
	if u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("an e-mail target is %s://host:port?from=…&to=…", u.Scheme)
	}
	m := &mailTarget{implicitTLS: u.Scheme == "smtps", host: u.Hostname(), addr: u.Host, o: o}
	if u.User != nil {
		if _, set := u.User.Password(); set {
			return nil, errors.New("put the SMTP password in KEYPORT_SMTP_PASSWORD_FILE, not in the URL")
		}
		m.user = u.User.Username()
	}
	if m.user != "" && o.Password == "" {
		return nil, errors.New("an SMTP user needs its password in KEYPORT_SMTP_PASSWORD_FILE")
	}
	q := u.Query()
	from, err := mail.ParseAddress(q.Get("from"))
	if err != nil {
		return nil, errors.New("from= must be one e-mail address")
	}
	m.from = from.Address
	for _, a := range q["to"] { // several: to= again (a comma separates targets)
		addr, err := mail.ParseAddress(strings.TrimSpace(a))
		if err != nil {
			return nil, fmt.Errorf("to= %q is not an e-mail address", a)
		}
		m.to = append(m.to, addr.Address)
	}
	if len(m.to) == 0 {
		return nil, errors.New("to= needs at least one address (several: to= again)")
	}
	return m, nil
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

// sender delivers the chosen events of each batch, one message each, in
// order. done is the last event this sink delivered (or passed over): a
// batch sent again after a failure skips them, so only a crash between a
// message and the cursor's advance repeats one.
type sender struct {
	target  string
	log     *Log
	done    int64
	deliver func(ctx context.Context, n *Notification) error
	close   func() error
}

func (s *sender) Send(ctx context.Context, batch []audit.ExportRecord) (int64, error) {
	for i := range batch {
		r := &batch[i]
		if r.ID <= s.done {
			continue
		}
		if n, ok := Of(r); ok {
			if err := s.deliver(ctx, n); err != nil {
				return 0, err
			}
			s.log.delivered(ctx, s.target, n)
		}
		s.done = r.ID
	}
	if len(batch) == 0 {
		return 0, nil
	}
	return batch[len(batch)-1].ID, nil
}

func (s *sender) Close() error {
	if s.close != nil {
		return s.close()
	}
	return nil
}
