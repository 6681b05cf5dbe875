// Package config holds Keyport's runtime configuration: every setting comes
// from a KEYPORT_* environment variable, may be overridden by a command-line
// flag, and is validated at once so that every problem is reported together.
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
	"strconv"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

// MinKeyBytes is the least entropy accepted for any key: 256 bits.
const MinKeyBytes = 32

// Config is everything `keyport serve` needs to run.
type Config struct {
	Addr             string
	DatabaseURL      secret.Secret // may carry a password
	SessionKey       secret.Secret // decoded key bytes
	EncryptionKey    secret.Secret // decoded key bytes; AES-256-GCM for tokens at rest
	AuditKey         secret.Secret // decoded key bytes; HMAC for fingerprints and checkpoints
	CXoneURLTemplate string        // "" means the real per-area hosts
	CXoneJWKSURL     string        // "" means decode bearers without verifying signatures
	CookieSecure     bool
	TrustedProxies   []*net.IPNet
	LogLevel         slog.Level
	LogFormat        string // "json" or "text"
	SessionIdle      time.Duration
	SessionAbsolute  time.Duration
	StaleAfterDays   int
}

// Var describes one setting: its environment variable, the flag that
// overrides it, and the help text shown by --help.
type Var struct {
	Env, Flag, Default, Help string
	// File marks a key: its flag names a file holding the value, so the key
	// never appears in a process listing.
	File bool
}

// Vars lists every setting in the order the README documents them.
var Vars = []Var{
	{Env: "KEYPORT_ADDR", Flag: "addr", Default: "127.0.0.1:8080", Help: "host:port the portal listens on"},
	{Env: "KEYPORT_DATABASE_URL", Flag: "database-url", Help: "PostgreSQL connection URL (required)"},
	{Env: "KEYPORT_SESSION_KEY", Flag: "session-key-file", File: true, Help: "key for session cookies, base64 or hex of >= 32 random bytes (required)"},
	{Env: "KEYPORT_ENCRYPTION_KEY", Flag: "encryption-key-file", File: true, Help: "AES-256-GCM key for CXone tokens at rest, base64 or hex of >= 32 random bytes (required)"},
	{Env: "KEYPORT_AUDIT_KEY", Flag: "audit-key-file", File: true, Help: "HMAC key for secret fingerprints and audit checkpoints, base64 or hex of >= 32 random bytes (required)"},
	{Env: "KEYPORT_CXONE_URL_TEMPLATE", Flag: "cxone-url-template", Help: "CXone base URL with a {region} placeholder; empty = the real per-area hosts"},
	{Env: "KEYPORT_CXONE_JWKS_URL", Flag: "cxone-jwks-url", Help: "JWKS URL to verify CXone bearer signatures; empty = decode without verifying"},
	{Env: "KEYPORT_COOKIE_SECURE", Flag: "cookie-secure", Default: "true", Help: "mark cookies Secure and use the __Host- prefix (false only for plain-HTTP local development)"},
	{Env: "KEYPORT_TRUSTED_PROXIES", Flag: "trusted-proxies", Help: "comma-separated CIDRs whose X-Forwarded-For is believed; empty = none"},
	{Env: "KEYPORT_LOG_LEVEL", Flag: "log-level", Default: "info", Help: "debug, info, warn or error"},
	{Env: "KEYPORT_LOG_FORMAT", Flag: "log-format", Default: "json", Help: "json or text"},
	{Env: "KEYPORT_SESSION_IDLE", Flag: "session-idle", Default: "30m", Help: "admin session idle timeout"},
	{Env: "KEYPORT_SESSION_ABSOLUTE", Flag: "session-absolute", Default: "8h", Help: "admin session absolute lifetime"},
	{Env: "KEYPORT_STALE_DAYS", Flag: "stale-days", Default: "90", Help: "a key unused or older than this many days is flagged stale"},
}

// Source resolves a setting: a flag given on the command line wins over the
// environment, which wins over the default.
type Source struct {
	getenv func(string) string
	flags  map[string]*string
	set    map[string]bool
	// readFile reads key files named by --*-key-file flags.
	readFile func(string) ([]byte, error)
}

// Register adds a flag for every setting to fs and returns the Source that
// Load reads after fs.Parse.
func Register(fs *flag.FlagSet, getenv func(string) string) *Source {
	s := &Source{getenv: getenv, flags: map[string]*string{}, set: map[string]bool{}, readFile: os.ReadFile}
	for _, v := range Vars {
		help := fmt.Sprintf("%s (env %s)", v.Help, v.Env)
		if v.File {
			help = fmt.Sprintf("file holding %s; overrides env %s", strings.ToLower(v.Help[:1])+v.Help[1:], v.Env)
		}
		s.flags[v.Env] = fs.String(v.Flag, "", help)
	}
	return s
}

func (s *Source) lookup(env string) (string, error) {
	if p := s.flags[env]; p != nil && *p != "" {
		for _, v := range Vars {
			if v.Env == env && v.File {
				b, err := s.readFile(*p)
				if err != nil {
					return "", fmt.Errorf("cannot read key file: %w", errors.Unwrap(err))
				}
				return strings.TrimSpace(string(b)), nil
			}
		}
		return *p, nil
	}
	if v := s.getenv(env); v != "" {
		return v, nil
	}
	for _, v := range Vars {
		if v.Env == env {
			return v.Default, nil
		}
	}
	return "", nil
}

// Load builds and validates a Config. The error joins one line per problem,
// each naming its variable; no line ever contains a key's value.
func (s *Source) Load() (Config, error) {
	var errs []error
	get := func(env string) string {
		v, err := s.lookup(env)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", env, err))
		}
		return v
	}
	c := Config{Addr: get("KEYPORT_ADDR")}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("KEYPORT_ADDR: want host:port, got %q", c.Addr))
	}
	if u := get("KEYPORT_DATABASE_URL"); u == "" {
		errs = append(errs, errors.New("KEYPORT_DATABASE_URL: required (a postgres:// URL)"))
	} else if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		errs = append(errs, errors.New("KEYPORT_DATABASE_URL: want a postgres:// or postgresql:// URL"))
	} else {
		c.DatabaseURL = secret.New(u)
	}
	keys := map[string]*secret.Secret{
		"KEYPORT_SESSION_KEY": &c.SessionKey, "KEYPORT_ENCRYPTION_KEY": &c.EncryptionKey, "KEYPORT_AUDIT_KEY": &c.AuditKey,
	}
	seen := map[string]string{}
	for _, env := range []string{"KEYPORT_SESSION_KEY", "KEYPORT_ENCRYPTION_KEY", "KEYPORT_AUDIT_KEY"} {
		k, err := ParseKey(get(env))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", env, err))
			continue
		}
		if other, dup := seen[k.Reveal()]; dup {
			errs = append(errs, fmt.Errorf("%s: must differ from %s (one key per purpose)", env, other))
			continue
		}
		seen[k.Reveal()] = env
		*keys[env] = k
	}
	c.CXoneURLTemplate = get("KEYPORT_CXONE_URL_TEMPLATE")
	if t := c.CXoneURLTemplate; t != "" {
		if !strings.Contains(t, "{region}") {
			errs = append(errs, errors.New("KEYPORT_CXONE_URL_TEMPLATE: must contain the {region} placeholder"))
		} else if u, err := url.Parse(strings.ReplaceAll(t, "{region}", "na1")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("KEYPORT_CXONE_URL_TEMPLATE: want an absolute http(s) URL"))
		}
	}
	c.CXoneJWKSURL = get("KEYPORT_CXONE_JWKS_URL")
	if j := c.CXoneJWKSURL; j != "" {
		if u, err := url.Parse(j); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("KEYPORT_CXONE_JWKS_URL: want an absolute http(s) URL"))
		}
	}
	var err error
	if c.CookieSecure, err = strconv.ParseBool(get("KEYPORT_COOKIE_SECURE")); err != nil {
		errs = append(errs, errors.New("KEYPORT_COOKIE_SECURE: want true or false"))
	}
	if c.TrustedProxies, err = parseCIDRs(get("KEYPORT_TRUSTED_PROXIES")); err != nil {
		errs = append(errs, fmt.Errorf("KEYPORT_TRUSTED_PROXIES: %w", err))
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("KEYPORT_LOG_LEVEL"))); err != nil {
		errs = append(errs, errors.New("KEYPORT_LOG_LEVEL: want debug, info, warn or error"))
	}
	if c.LogFormat = get("KEYPORT_LOG_FORMAT"); c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, errors.New("KEYPORT_LOG_FORMAT: want json or text"))
	}
	c.SessionIdle = duration(get("KEYPORT_SESSION_IDLE"), "KEYPORT_SESSION_IDLE", &errs)
	c.SessionAbsolute = duration(get("KEYPORT_SESSION_ABSOLUTE"), "KEYPORT_SESSION_ABSOLUTE", &errs)
	if c.SessionIdle > 0 && c.SessionAbsolute > 0 && c.SessionIdle > c.SessionAbsolute {
		errs = append(errs, errors.New("KEYPORT_SESSION_IDLE: must not exceed KEYPORT_SESSION_ABSOLUTE"))
	}
	if c.StaleAfterDays, err = strconv.Atoi(get("KEYPORT_STALE_DAYS")); err != nil || c.StaleAfterDays < 1 {
		errs = append(errs, errors.New("KEYPORT_STALE_DAYS: want a whole number of days >= 1"))
	}
	return c, errors.Join(errs...)
}

func duration(v, env string, errs *[]error) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		*errs = append(*errs, fmt.Errorf("%s: want a positive duration such as 30m, got %q", env, v))
		return 0
	}
	return d
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
	)
}
