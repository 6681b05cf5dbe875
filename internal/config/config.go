// Package config holds Keyport's runtime configuration: every setting comes
// from a KEYPORT_* environment variable, may be overridden by a command-line
// flag, and is validated at once so that every problem is reported together.
// Every command loads its configuration here: serve and dev all of it, the
// tools (migrate, audit, reviewer, reconcile) only the settings they read.
// Keys are held as secret.Secret, so a printed Config is safe.
package config

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/secret"
)

// MinKeyBytes is the least entropy accepted for any key: 256 bits.
const MinKeyBytes = 32

// Config is everything `keyport serve` needs to run.
type Config struct {
	Addr        string
	DatabaseURL secret.Secret // may carry a password
	// DatabaseReadURL is a streaming replica the reviewers' reads go to; "" reads the primary.
	DatabaseReadURL secret.Secret
	// The three key rings, newest key first: the newest signs or encrypts,
	// every key verifies or decrypts (docs/security.md, key rotation).
	SessionKey       keyring.Ring // signs session cookies
	EncryptionKey    keyring.Ring // AES-256-GCM for tokens, session data and TOTP seeds at rest
	AuditKey         keyring.Ring // HMAC for fingerprints, session hashes and checkpoints
	CXoneURLTemplate string       // "" means the real per-area hosts
	CXoneJWKSURL     string       // "" means decode bearers without verifying signatures
	CookieSecure     bool
	TrustedProxies   []*net.IPNet
	LogLevel         slog.Level
	LogFormat        string // "json" or "text"
	// LogRequests is the level of the one line per request; a 5xx is
	// always logged at error. keyport dev sets debug to keep its terminal quiet.
	LogRequests     slog.Level
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	StaleAfterDays  int
	// ShutdownTimeout bounds the drain after SIGTERM: longer than the
	// longest action (a request's own budget is 75 s).
	ShutdownTimeout time.Duration
	// RateLimit is connects, creates, look-ups and rotations per minute per
	// client IP and per session, shared by every instance.
	RateLimit int
	// DBMaxConns is the pgx pool's size (KEYPORT_DB_MAX_CONNS, default 8).
	DBMaxConns int32
	// AuditSinks is the comma-separated list of sink URLs the trail is
	// streamed to (internal/auditsink parses and checks it at start).
	AuditSinks string
	// AuditSinkTokenFile names the file holding the HTTPS sinks' token.
	AuditSinkTokenFile string
	// OIDC is the reviewers' OpenID Connect sign-in (oidc.go).
	OIDC OIDC
	// Notifications (issue 25, notify.go).
	Notifications
	// AuditRetain is how long the trail stays in the database before
	// `keyport audit archive` moves whole months to files; 0 keeps everything.
	AuditRetain time.Duration
}

// The environment variable of every setting. Commands that need only some
// settings name them to Register and Load.
const (
	Addr             = "KEYPORT_ADDR"
	DatabaseURL      = "KEYPORT_DATABASE_URL"
	DatabaseReadURL  = "KEYPORT_DATABASE_READ_URL"
	SessionKey       = "KEYPORT_SESSION_KEY"
	EncryptionKey    = "KEYPORT_ENCRYPTION_KEY"
	AuditKey         = "KEYPORT_AUDIT_KEY"
	CXoneURLTemplate = "KEYPORT_CXONE_URL_TEMPLATE"
	CXoneJWKSURL     = "KEYPORT_CXONE_JWKS_URL"
	CookieSecure     = "KEYPORT_COOKIE_SECURE"
	TrustedProxies   = "KEYPORT_TRUSTED_PROXIES"
	LogLevel         = "KEYPORT_LOG_LEVEL"
	LogFormat        = "KEYPORT_LOG_FORMAT"
	LogRequests      = "KEYPORT_LOG_REQUESTS"
	SessionIdle      = "KEYPORT_SESSION_IDLE"
	SessionAbsolute  = "KEYPORT_SESSION_ABSOLUTE"
	StaleDays        = "KEYPORT_STALE_DAYS"
	ShutdownTimeout  = "KEYPORT_SHUTDOWN_TIMEOUT"
	RateLimit        = "KEYPORT_RATE_LIMIT"
	DBMaxConns       = "KEYPORT_DB_MAX_CONNS"
	AuditSinks       = "KEYPORT_AUDIT_SINKS"
	AuditSinkToken   = "KEYPORT_AUDIT_SINK_TOKEN_FILE"
	AuditRetain      = "KEYPORT_AUDIT_RETAIN"
)

// Var describes one setting: its environment variable, the flag that
// overrides it, and the help text shown by --help.
type Var struct {
	Env, Flag, Default, Help string
	// File marks a key: its flag names a file holding the value, so the key
	// never appears in a process listing.
	File bool
}

// Vars lists every setting in the order the README documents them; Load
// validates (and reports problems) in this order.
var Vars = []Var{
	{Env: Addr, Flag: "addr", Default: "127.0.0.1:8080", Help: "host:port the portal listens on"},
	{Env: DatabaseURL, Flag: "database-url", Help: "PostgreSQL connection URL (required)"},
	{Env: DatabaseReadURL, Flag: "database-read-url", Help: "a streaming replica's URL for the reviewers' reads (list, event pages, key history, activity, exports, credential report); empty = the primary"},
	{Env: SessionKey, Flag: "session-key-file", File: true, Help: "key for session cookies, base64 or hex of >= 32 random bytes (required); a ring of several: comma-separated, newest first (in the file: one per line)"},
	{Env: EncryptionKey, Flag: "encryption-key-file", File: true, Help: "AES-256-GCM key for CXone tokens, session data and TOTP seeds at rest, base64 or hex of >= 32 random bytes (required); a ring of several: comma-separated, newest first (in the file: one per line)"},
	{Env: AuditKey, Flag: "audit-key-file", File: true, Help: "HMAC key for secret fingerprints and audit checkpoints, base64 or hex of >= 32 random bytes (required); a ring of several: comma-separated, newest first (in the file: one per line)"},
	{Env: CXoneURLTemplate, Flag: "cxone-url-template", Help: "CXone base URL with a {region} placeholder; empty = the real per-area hosts"},
	{Env: CXoneJWKSURL, Flag: "cxone-jwks-url", Help: "JWKS URL to verify CXone bearer signatures; empty = decode without verifying"},
	{Env: CookieSecure, Flag: "cookie-secure", Default: "true", Help: "mark cookies Secure and use the __Host- prefix (false only for plain-HTTP local development)"},
	{Env: TrustedProxies, Flag: "trusted-proxies", Help: "comma-separated CIDRs whose X-Forwarded-For is believed; empty = none"},
	{Env: LogLevel, Flag: "log-level", Default: "info", Help: "debug, info, warn or error"},
	{Env: LogFormat, Flag: "log-format", Default: "json", Help: "json or text"},
	{Env: LogRequests, Flag: "log-requests", Default: "info", Help: "level of the one line per request: debug, info, warn or error (a 5xx is always error)"},
	{Env: SessionIdle, Flag: "session-idle", Default: "30m", Help: "admin session idle timeout"},
	{Env: SessionAbsolute, Flag: "session-absolute", Default: "8h", Help: "admin session absolute lifetime"},
	{Env: StaleDays, Flag: "stale-days", Default: "90", Help: "a key unused or older than this many days is flagged stale"},
	{Env: ShutdownTimeout, Flag: "shutdown-timeout", Default: "90s", Help: "how long SIGTERM waits for in-flight actions to finish (longer than a request's 75 s budget)"},
	{Env: RateLimit, Flag: "rate-limit", Default: "20", Help: "connects, creates, look-ups and rotations per minute per client IP and per session (bursts of half)"},
	{Env: AuditSinks, Flag: "audit-sinks", Help: "comma-separated audit sink URLs: file:///path, syslog+tcp://host:port, syslog+tls://host:port, https://…, splunk-hec+https://… (#name names one); empty = none"},
	{Env: AuditSinkToken, Flag: "audit-sink-token-file", Help: "file holding the HTTPS sinks' token (Splunk HEC: 'Authorization: Splunk <token>'; other HTTPS sinks: a bearer token)"},
	notifyVars[0], notifyVars[1], notifyVars[2], notifyVars[3], notifyVars[4],
	{Env: DBMaxConns, Flag: "db-max-conns", Default: "8", Help: "PostgreSQL connections in this instance's pool (each instance holds its own; the server's max_connections must cover them all)"},
	{Env: AuditRetain, Flag: "audit-retain", Help: "how long the audit trail stays in the database, in days (e.g. 400d): keyport audit archive moves older months to files; empty = keep everything"},
	oidcVars[0], oidcVars[1], oidcVars[2], oidcVars[3], oidcVars[4], oidcVars[5], oidcVars[6], oidcVars[7], oidcVars[8],
}

// Source resolves a setting: a flag given on the command line wins over the
// environment, which wins over the default.
type Source struct {
	getenv func(string) string
	flags  map[string]*string
	// registered lists the settings that have a flag, in Vars order.
	registered []string
	// readFile reads key files named by --*-key-file flags.
	readFile func(string) ([]byte, error)
}

// Register adds a flag for each named setting (every setting when none is
// named, as serve needs) to fs and returns the Source that Load reads after
// fs.Parse. A command that needs only some settings (the database URL and the
// audit key, say) names them, so its --help shows only what it reads.
func Register(fs *flag.FlagSet, getenv func(string) string, only ...string) *Source {
	s := &Source{getenv: getenv, flags: map[string]*string{}, readFile: os.ReadFile}
	for _, v := range selected(only) {
		help := fmt.Sprintf("%s (env %s)", v.Help, v.Env)
		if v.File {
			help = fmt.Sprintf("file holding the %s; overrides env %s", v.Help, v.Env)
		}
		s.flags[v.Env] = fs.String(v.Flag, "", help)
		s.registered = append(s.registered, v.Env)
	}
	return s
}

// selected returns the Vars named in only (all of them when only is empty),
// in Vars order.
func selected(only []string) []Var {
	if len(only) == 0 {
		return Vars
	}
	var out []Var
	for _, v := range Vars {
		if slices.Contains(only, v.Env) {
			out = append(out, v)
		}
	}
	return out
}

func (s *Source) lookup(v Var) (string, error) {
	if p := s.flags[v.Env]; p != nil && *p != "" {
		if !v.File {
			return *p, nil
		}
		b, err := s.readFile(*p)
		if err != nil {
			return "", fmt.Errorf("cannot read key file: %w", errors.Unwrap(err))
		}
		return strings.TrimSpace(string(b)), nil
	}
	if val := s.getenv(v.Env); val != "" {
		return val, nil
	}
	return v.Default, nil
}

// Load builds and validates a Config from the named settings (every
// registered one when none is named); the others keep their zero value. A
// command names fewer settings than it registered when a flag decides what
// it needs (reviewer add reads the encryption key only with --totp). The
// error joins one line per problem, each naming its variable; no line ever
// contains a key's value.
func (s *Source) Load(only ...string) (Config, error) {
	if len(only) == 0 {
		only = s.registered
	}
	var c Config
	var errs []error
	keys := map[string]string{} // key value → the variable that holds it
	for _, v := range selected(only) {
		raw, err := s.lookup(v)
		if err == nil {
			err = c.set(v.Env, raw, keys)
		}
		if err != nil {
			errs = append(errs, prefixed(v.Env, err)...)
		}
	}
	if c.SessionIdle > 0 && c.SessionAbsolute > 0 && c.SessionIdle > c.SessionAbsolute {
		errs = append(errs, errors.New("KEYPORT_SESSION_IDLE: must not exceed KEYPORT_SESSION_ABSOLUTE"))
	}
	if slices.Contains(only, OIDCIssuer) {
		errs = append(errs, c.OIDC.check(s.readFile)...)
	}
	return c, errors.Join(errs...)
}

// set validates the value v of the setting env and stores it in c. keys
// holds the keys already set, which each key must differ from.
func (c *Config) set(env, v string, keys map[string]string) error {
	var err error
	switch env {
	case Addr:
		c.Addr = v
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("want host:port, got %q", v)
		}
	case DatabaseURL:
		if v == "" {
			return errors.New("required (a postgres:// URL)")
		}
		if !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
			return errors.New("want a postgres:// or postgresql:// URL")
		}
		c.DatabaseURL = secret.New(v)
	case SessionKey, EncryptionKey, AuditKey:
		return c.setKey(env, v, keys)
	case CXoneURLTemplate:
		c.CXoneURLTemplate = v
		if v == "" {
			return nil
		}
		if !strings.Contains(v, "{region}") {
			return errors.New("must contain the {region} placeholder")
		}
		if !absoluteHTTP(strings.ReplaceAll(v, "{region}", "na1")) {
			return errors.New("want an absolute http(s) URL")
		}
	case CXoneJWKSURL:
		if c.CXoneJWKSURL = v; v != "" && !absoluteHTTP(v) {
			return errors.New("want an absolute http(s) URL")
		}
	case CookieSecure:
		if c.CookieSecure, err = strconv.ParseBool(v); err != nil {
			return errors.New("want true or false")
		}
	case TrustedProxies:
		c.TrustedProxies, err = parseCIDRs(v)
		return err
	case LogLevel:
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return errors.New("want debug, info, warn or error")
		}
	case LogRequests:
		if err := c.LogRequests.UnmarshalText([]byte(v)); err != nil {
			return errors.New("want debug, info, warn or error")
		}
	case LogFormat:
		if c.LogFormat = v; v != "json" && v != "text" {
			return errors.New("want json or text")
		}
	case SessionIdle:
		c.SessionIdle, err = duration(v)
		return err
	case SessionAbsolute:
		c.SessionAbsolute, err = duration(v)
		return err
	case ShutdownTimeout:
		c.ShutdownTimeout, err = duration(v)
		return err
	case AuditSinks, AuditSinkToken, AuditRetain, DatabaseReadURL, Notify, NotifySecret, SMTPPassword, PublicURL, SinkMinutes:
		return c.setOutbound(env, v)
	case DBMaxConns:
		c.DBMaxConns, err = poolSize(v)
		return err
	case RateLimit:
		if c.RateLimit, err = strconv.Atoi(v); err != nil || c.RateLimit < 2 {
			return errors.New("want a whole number of attempts per minute >= 2")
		}
	case OIDCIssuer, OIDCClientID, OIDCClientSecretFile, OIDCRedirectURL, OIDCScopes, OIDCGroupsClaim, OIDCReviewerGroups, LocalReviewers, OIDCName:
		return c.OIDC.set(env, v)
	case StaleDays:
		if c.StaleAfterDays, err = strconv.Atoi(v); err != nil || c.StaleAfterDays < 1 {
			return errors.New("want a whole number of days >= 1")
		}
	}
	return nil
}

// prefixed names env on every line of err: a ring reports each bad key on
// its own line.
func prefixed(env string, err error) []error {
	var out []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fmt.Errorf("%s: %w", env, e))
		}
		return out
	}
	return []error{fmt.Errorf("%s: %w", env, err)}
}

// setKey parses one of the three key rings: keys separated by commas or
// newlines (a key file holds one per line), newest first. Every bad key is
// reported, by position. One key per purpose, so a key that another
// variable already holds is refused, as is one given twice in a ring.
func (c *Config) setKey(env, v string, keys map[string]string) error {
	var fields []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		_, err := ParseKey("")
		return err
	}
	var errs []error
	var ring []secret.Secret
	ids := map[string]int{}
	for i, f := range fields {
		at := ""
		if len(fields) > 1 {
			at = fmt.Sprintf("key %d of %d: ", i+1, len(fields))
		}
		k, err := ParseKey(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%w", at, err))
			continue
		}
		if other, dup := keys[k.Reveal()]; dup && other == env {
			errs = append(errs, fmt.Errorf("%sgiven twice in the ring", at))
			continue
		} else if dup {
			errs = append(errs, fmt.Errorf("%smust differ from %s (one key per purpose)", at, other))
			continue
		}
		id := keyring.ID(k)
		if j, clash := ids[id]; clash {
			errs = append(errs, fmt.Errorf("%shas the same id (%s) as key %d: generate another key", at, id, j))
			continue
		}
		ids[id] = i + 1
		keys[k.Reveal()] = env
		ring = append(ring, k)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	switch env {
	case SessionKey:
		c.SessionKey = keyring.New(ring...)
	case EncryptionKey:
		c.EncryptionKey = keyring.New(ring...)
	case AuditKey:
		c.AuditKey = keyring.New(ring...)
	}
	return nil
}

func absoluteHTTP(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func duration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive duration such as 30m, got %q", v)
	}
	return d, nil
}

func parseCIDRs(v string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// ParseKey decodes a key given as base64 (standard or URL alphabet, padded
// or not) or hex, and refuses one shorter than MinKeyBytes or with visibly
// no entropy. The error never contains the value.
func ParseKey(v string) (secret.Secret, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return secret.Secret{}, errors.New("required; generate one with `keyport genkey` or `openssl rand -base64 32`")
	}
	var raw []byte
	if b, err := hex.DecodeString(v); err == nil && len(v)%2 == 0 {
		raw = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(v); err == nil {
				raw = b
				break
			}
		}
	}
	if raw == nil {
		return secret.Secret{}, errors.New("not valid base64 or hex")
	}
	if len(raw) < MinKeyBytes {
		return secret.Secret{}, fmt.Errorf("too short: %d bytes, want at least %d random bytes", len(raw), MinKeyBytes)
	}
	distinct := map[byte]bool{}
	for _, b := range raw {
		distinct[b] = true
	}
	if len(distinct) < 8 {
		return secret.Secret{}, errors.New("too weak: it does not look random")
	}
	return secret.New(string(raw)), nil
}

// LogValue describes the resolved configuration for start-up logs, without
// keys or the database URL.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("cxone_url_template", cmp.Or(c.CXoneURLTemplate, "(real CXone hosts)")),
		slog.Bool("cxone_jwks_verify", c.CXoneJWKSURL != ""),
		slog.Bool("cookie_secure", c.CookieSecure),
		slog.Int("trusted_proxies", len(c.TrustedProxies)),
		slog.String("session_idle", c.SessionIdle.String()),
		slog.String("session_absolute", c.SessionAbsolute.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("oidc_issuer", cmp.Or(c.OIDC.Issuer, "(none)")),
		slog.Bool("local_reviewers", !c.OIDC.LocalOff),
		slog.Bool("read_replica", c.DatabaseReadURL.Len() > 0),
		slog.String("audit_retain", c.AuditRetain.String()),
	)
}

// poolSize reads KEYPORT_DB_MAX_CONNS.
func poolSize(v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 2 || n > 1000 {
		return 0, errors.New("want a whole number of connections from 2 to 1000")
	}
	return int32(n), nil
}
