package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyport/keyport/internal/config"
)

// devEnvFile is where `keyport dev` keeps its settings (the development keys
// and the database URL), relative to the directory it runs in; the tools
// read it from the same place.
var devEnvFile = filepath.Join(".keyport", "dev.env")

// devEnvOrder is the order of dev.env's lines.
var devEnvOrder = []string{config.SessionKey, config.EncryptionKey, config.AuditKey, config.DatabaseURL}

// readDevEnv reads the KEY=value lines of path; a missing file is empty.
func readDevEnv(path string) (map[string]string, error) {
	vals := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return vals, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && !strings.HasPrefix(k, "#") {
			vals[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return vals, nil
}

// writeDevEnv writes vals to path (mode 0600, through a renamed temporary
// file, so a reader never sees half of it).
func writeDevEnv(path string, vals map[string]string) error {
	var b strings.Builder
	b.WriteString("# Written by `keyport dev`: development keys and database. Never use these in production.\n" +
		"# keyport audit, auditor and reviewer read this file when run here without KEYPORT_DATABASE_URL.\n")
	for _, k := range devEnvOrder {
		if vals[k] != "" {
			fmt.Fprintf(&b, "%s=%s\n", k, vals[k])
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".dev.env.*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // nothing left to remove after the rename
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// devGetenv is e.getenv for the tools a developer runs beside `make dev`
// (audit, reviewer/auditor): when neither --database-url nor
// KEYPORT_DATABASE_URL names a database, it answers from .keyport/dev.env
// (the development database and its keys) and says so on stderr.
//
// It relies on config.Source asking for the database URL only when no flag
// gave it, and before any key (Load goes in config.Vars order): a database
// named explicitly is never paired with the development keys.
func devGetenv(e env) func(string) string {
	var dev map[string]string // nil until the database URL was looked up and unset
	return func(k string) string {
		if v := e.getenv(k); v != "" {
			return v
		}
		if k == config.DatabaseURL && dev == nil {
			vals, err := readDevEnv(devEnvFile)
			if err != nil || vals[config.DatabaseURL] == "" {
				dev = map[string]string{}
				return ""
			}
			dev = vals
			fmt.Fprintf(e.stderr, "keyport: KEYPORT_DATABASE_URL is not set: using the development database of `keyport dev`, %s, and its keys, from %s\n",
				redactURL(vals[config.DatabaseURL]), devEnvFile)
		}
		return dev[k]
	}
}

// redactURL hides a URL's password, for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unreadable URL)"
	}
	return u.Redacted()
}
