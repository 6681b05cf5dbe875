package config

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(b byte) string {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = b + byte(i*7)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		"KEYPORT_DATABASE_URL":   "postgres://u:p@127.0.0.1:5432/keyport",
		"KEYPORT_SESSION_KEY":    key(1),
		"KEYPORT_ENCRYPTION_KEY": key(2),
		"KEYPORT_AUDIT_KEY":      key(3),
	}
}

func load(t *testing.T, m map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	src := Register(fs, env(m))
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return src.Load()
}

func TestLoadDefaults(t *testing.T) {
	c, err := load(t, validEnv())
	if err != nil {
		t.Fatalf("valid env rejected: %v", err)
	}
	if c.Addr != "127.0.0.1:8080" || !c.CookieSecure || c.LogFormat != "json" || c.StaleAfterDays != 90 ||
		c.SessionIdle.Minutes() != 30 || c.SessionAbsolute.Hours() != 8 || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults wrong: %+v", c)
	}
	if c.SessionKey.Len() != 1 || c.SessionKey.Newest().Secret.Len() != 32 {
		t.Fatalf("session key ring = %d keys, want one of 32 bytes", c.SessionKey.Len())
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	m := validEnv()
	m["KEYPORT_ADDR"] = "127.0.0.1:9000"
	dir := t.TempDir()
	kf := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(kf, []byte(key(9)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, m, "--addr", "0.0.0.0:7000", "--audit-key-file", kf, "--trusted-proxies", "10.0.0.0/8, 192.168.1.0/24")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:7000" {
		t.Errorf("Addr = %q, want the flag's value", c.Addr)
	}
	want, _ := ParseKey(key(9))
	if c.AuditKey.Len() != 1 || c.AuditKey.Newest().Secret.Reveal() != want.Reveal() {
		t.Error("audit key not read from --audit-key-file")
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.168.1.0/24" {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
}

func TestEveryProblemReportedOnOneLineEach(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte("tooshort-secret-value"))
	m := map[string]string{
		"KEYPORT_SESSION_KEY":        short,
		"KEYPORT_ENCRYPTION_KEY":     strings.Repeat("A", 64),
		"KEYPORT_AUDIT_KEY":          "!!!not-a-key!!!",
		"KEYPORT_COOKIE_SECURE":      "maybe",
		"KEYPORT_TRUSTED_PROXIES":    "10.0.0.1",
		"KEYPORT_LOG_FORMAT":         "xml",
		"KEYPORT_DB_MAX_CONNS":       "1",
		"KEYPORT_CXONE_URL_TEMPLATE": "http://sim.local/na1",
	}
	_, err := load(t, m)
	if err == nil {
		t.Fatal("invalid env accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	wantPrefixes := []string{"KEYPORT_DATABASE_URL:", "KEYPORT_SESSION_KEY: too short", "KEYPORT_ENCRYPTION_KEY: too weak",
		"KEYPORT_AUDIT_KEY: not valid", "KEYPORT_CXONE_URL_TEMPLATE:", "KEYPORT_COOKIE_SECURE:", "KEYPORT_TRUSTED_PROXIES:", "KEYPORT_LOG_FORMAT:", "KEYPORT_DB_MAX_CONNS:"}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(wantPrefixes), err)
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], p)
		}
	}
	for _, v := range []string{short, "tooshort-secret-value", "!!!not-a-key!!!"} {
		if strings.Contains(err.Error(), v) {
			t.Errorf("error echoes a key value %q", v)
		}
	}
}

func TestKeysMustDiffer(t *testing.T) {
	m := validEnv()
	m["KEYPORT_AUDIT_KEY"] = m["KEYPORT_SESSION_KEY"]
	_, err := load(t, m)
	if err == nil || !strings.Contains(err.Error(), "KEYPORT_AUDIT_KEY: must differ from KEYPORT_SESSION_KEY") {
		t.Fatalf("reused key not refused: %v", err)
	}
}

func TestConfigPrintsNoSecrets(t *testing.T) {
	m := validEnv()
	m["KEYPORT_DATABASE_URL"] = "postgres://u:CANARYPASS@127.0.0.1/k"
	c, err := load(t, m)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v", c, c, c)
	if strings.Contains(out, "CANARYPASS") {
		t.Fatalf("printed config leaks the database password: %s", out)
	}
	for _, k := range []string{c.SessionKey.Newest().Secret.Reveal(), c.EncryptionKey.Newest().Secret.Reveal(), c.AuditKey.Newest().Secret.Reveal()} {
		if strings.Contains(out, k) {
			t.Fatal("printed config leaks a key")
		}
	}
}

func TestParseKeyFormats(t *testing.T) {
	raw := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	for _, tc := range []struct{ name, v string }{
		{"standard base64", base64.StdEncoding.EncodeToString(raw)},
		{"unpadded url base64", base64.RawURLEncoding.EncodeToString(raw)},
		{"hex", fmt.Sprintf("%x", raw)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if k.Reveal() != string(raw) {
				t.Fatalf("decoded %d bytes, want the original %d", k.Len(), len(raw))
			}
		})
	}
}

// A command that needs only some settings registers flags for those alone
// and is refused only for what it reads: the audit tools need no session key.
func TestRegisterOnlyWhatACommandReads(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	src := Register(fs, env(map[string]string{"KEYPORT_SESSION_KEY": "not a key"}), DatabaseURL, AuditKey, EncryptionKey)
	var flags []string
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
	if got, want := strings.Join(flags, " "), "audit-key-file database-url encryption-key-file"; got != want {
		t.Errorf("flags = %q, want %q", got, want)
	}
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	_, err := src.Load(DatabaseURL, AuditKey)
	if err == nil {
		t.Fatal("missing database URL and audit key accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "KEYPORT_DATABASE_URL: required") || !strings.HasPrefix(lines[1], "KEYPORT_AUDIT_KEY: required") {
		t.Errorf("want one line for the database URL and one for the audit key, got:\n%s", err)
	}
	if _, err := src.Load(); err == nil || !strings.Contains(err.Error(), "KEYPORT_ENCRYPTION_KEY: required") {
		t.Errorf("Load of every registered setting does not require the encryption key: %v", err)
	}
}

func TestSubsetLoadFillsOnlyWhatItReads(t *testing.T) {
	m := validEnv()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	src := Register(fs, env(m), DatabaseURL, AuditKey)
	c, err := src.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL.Reveal() != m["KEYPORT_DATABASE_URL"] || c.AuditKey.Len() != 1 {
		t.Errorf("database URL or audit key not loaded: %+v", c)
	}
	if c.SessionKey.Len() != 0 || c.EncryptionKey.Len() != 0 || c.Addr != "" || c.StaleAfterDays != 0 {
		t.Errorf("settings that were not asked for were loaded: %+v", c)
	}
}

func TestUnreadableKeyFileIsOneProblem(t *testing.T) {
	m := validEnv()
	_, err := load(t, m, "--audit-key-file", filepath.Join(t.TempDir(), "missing.key"))
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "KEYPORT_AUDIT_KEY: cannot read key file") {
		t.Fatalf("want one line saying the audit key file cannot be read, got:\n%v", err)
	}
}

func TestKeyFileFlagHelpNamesTheKey(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	Register(fs, env(nil))
	for name, want := range map[string]string{
		"session-key-file":    "file holding the key for session cookies",
		"encryption-key-file": "file holding the AES-256-GCM key",
		"audit-key-file":      "file holding the HMAC key",
	} {
		if got := fs.Lookup(name).Usage; !strings.HasPrefix(got, want) {
			t.Errorf("--%s help = %q, want it to start with %q", name, got, want)
		}
	}
}

func TestKeyRings(t *testing.T) {
	dir := t.TempDir()
	kf := filepath.Join(dir, "encryption.keys")
	if err := os.WriteFile(kf, []byte(key(40)+"\n"+key(41)+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := validEnv()
	m["KEYPORT_SESSION_KEY"] = key(30) + ", " + key(31) + "," + key(32)
	c, err := load(t, m, "--encryption-key-file", kf)
	if err != nil {
		t.Fatal(err)
	}
	newest, _ := ParseKey(key(30))
	if got := c.SessionKey.Len(); got != 3 || c.SessionKey.Newest().Secret.Reveal() != newest.Reveal() {
		t.Errorf("session ring = %d keys (newest right: %v), want 3 with key 30 first", got, c.SessionKey.Newest().Secret.Reveal() == newest.Reveal())
	}
	second, _ := ParseKey(key(41))
	if got := c.EncryptionKey.Keys(); len(got) != 2 || got[1].Secret.Reveal() != second.Reveal() {
		t.Errorf("encryption ring from a file of one key per line = %d keys, want 2 in file order", len(got))
	}
	ids := map[string]bool{}
	for _, r := range []interface{ IDs() []string }{c.SessionKey, c.EncryptionKey, c.AuditKey} {
		for _, id := range r.IDs() {
			if len(id) != 8 || ids[id] {
				t.Errorf("key id %q: want 8 hex characters, distinct", id)
			}
			ids[id] = true
		}
	}
	out := fmt.Sprintf("%v %+v %#v", c, c.SessionKey, c.EncryptionKey)
	for _, k := range c.SessionKey.Keys() {
		if strings.Contains(out, k.Secret.Reveal()) || !strings.Contains(out, k.ID) {
			t.Fatalf("a printed ring shows a key, or not its id: %s", out)
		}
	}
}

// Every bad key of every ring is reported at once, by position, and no
// line shows a key.
func TestKeyRingProblemsReportedTogether(t *testing.T) {
	m := validEnv()
	m["KEYPORT_SESSION_KEY"] = key(30) + ",short," + key(30)
	m["KEYPORT_ENCRYPTION_KEY"] = "%%%," + key(3)
	_, err := load(t, m)
	if err == nil {
		t.Fatal("bad rings accepted")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		"KEYPORT_SESSION_KEY: key 2 of 3: not valid base64 or hex",
		"KEYPORT_SESSION_KEY: key 3 of 3: given twice in the ring",
		"KEYPORT_ENCRYPTION_KEY: key 1 of 2: not valid base64 or hex",
		"KEYPORT_AUDIT_KEY: must differ from KEYPORT_ENCRYPTION_KEY (one key per purpose)",
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i+1, got[i], want[i])
		}
	}
	for _, k := range []string{key(30), key(3)} {
		if strings.Contains(err.Error(), k) {
			t.Fatal("the error shows a key")
		}
	}
}
