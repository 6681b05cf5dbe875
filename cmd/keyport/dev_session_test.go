package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/pglocal"
)

// One development session, stopped and started again, as a developer has
// it: the banner comes last and stays (no request line at the default
// level), the tools find the development database by themselves, and the
// simulator's keys survive the restart.
func TestDevSessionIsQuietAndCoherentAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL twice")
	}
	parent, err := pglocal.MkdirTemp("", "keyport-dev-test-") // the server user must reach the cluster
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	dir := filepath.Join(parent, "checkout")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ports := devPorts(t, 3)
	portal, simURL := "http://127.0.0.1:"+strconv.Itoa(ports[0]), "http://127.0.0.1:"+strconv.Itoa(ports[1])

	dev := startDev(t, dir, ports)
	banner := dev.out()
	password, err := os.ReadFile(filepath.Join(dir, ".keyport", "pg", "password"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Portal              " + portal, simURL + "/na1/generate-key",
		"postgres://postgres:xxxxx@127.0.0.1:" + strconv.Itoa(ports[2]) + "/keyport", ".keyport/", "Ctrl-C", "keyport auditor"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if strings.Contains(banner+dev.stderr.String(), strings.TrimSpace(string(password))) {
		t.Error("the database password was printed")
	}
	for _, p := range []string{"/healthz", "/connect", "/reviewer/login"} {
		getOK(t, portal+p)
	}
	getOK(t, simURL+"/na1/generate-key")
	connectPortal(t, portal, simURL)
	keyID := simCreateKey(t, simURL)

	checkToolsUseDevDatabase(t, dir, ports[2])

	dev.stop()
	if after := strings.TrimSpace(strings.SplitAfter(dev.out(), "Ctrl-C stops the portal, the simulator and PostgreSQL")[1]); !strings.HasPrefix(after, "───") ||
		strings.TrimSpace(strings.TrimLeft(after, "─")) != "PostgreSQL stopped." {
		t.Errorf("stdout after the banner = %q, want only the stop", after)
	}
	if s := dev.stderr.String(); strings.Contains(s, "msg=request") || strings.Contains(s, "cxonesim request") || strings.Contains(s, "cxone call") {
		t.Errorf("request lines at the default level:\n%s", s)
	}
	for _, f := range []string{"dev.env", "sim.json"} {
		if fi, err := os.Stat(filepath.Join(dir, ".keyport", f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".keyport", "pg", "data", "postmaster.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("postmaster.pid after the stop: %v", err)
	}

	// Again, with debug logs: the simulator still has the key, and the
	// request lines are there for whoever asks.
	dev = startDev(t, dir, ports, "KEYPORT_LOG_LEVEL=debug")
	if !strings.Contains(string(getOK(t, simURL+"/control/tenants")), keyID) {
		t.Error("the simulator forgot a key across the restart")
	}
	getOK(t, portal+"/healthz")
	connectPortal(t, portal, simURL)
	dev.stop()
	if s := dev.stderr.String(); !strings.Contains(s, "level=DEBUG msg=request method=GET route=/healthz status=200") ||
		!strings.Contains(s, "level=DEBUG msg=\"cxone call\"") || !strings.Contains(s, "cxonesim request") {
		t.Errorf("no request lines at debug:\n%s", s)
	}
}

// checkToolsUseDevDatabase runs the tools in the checkout while keyport dev
// runs: with no database URL they use dev.env and say so; with one they
// never take the development keys.
func checkToolsUseDevDatabase(t *testing.T, dir string, pgPort int) {
	t.Helper()
	out, errOut, code := tool(t, dir, nil, "auditor", "list")
	if code != 0 || !strings.Contains(out, "reviewer") || !strings.Contains(errOut, "using the development database") ||
		!strings.Contains(errOut, "127.0.0.1:"+strconv.Itoa(pgPort)+"/keyport") || !strings.Contains(errOut, filepath.Join(".keyport", "dev.env")) {
		t.Errorf("auditor list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = tool(t, dir, nil, "audit", "verify")
	if code != 0 || !strings.HasPrefix(out, "verified ") || !strings.Contains(errOut, "using the development database") {
		t.Errorf("audit verify: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A database named explicitly is never paired with the development keys.
	vals, err := readDevEnv(filepath.Join(dir, ".keyport", "dev.env"))
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code = tool(t, dir, []string{"KEYPORT_DATABASE_URL=" + vals["KEYPORT_DATABASE_URL"]}, "audit", "verify")
	if code != 2 || !strings.Contains(errOut, "KEYPORT_AUDIT_KEY: required") || strings.Contains(errOut, "development database") {
		t.Errorf("audit verify with a URL but no key: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = tool(t, dir, nil, "reviewer", "list", "--database-url", vals["KEYPORT_DATABASE_URL"])
	if code != 2 || !strings.Contains(errOut, "KEYPORT_AUDIT_KEY: required") {
		t.Errorf("reviewer list --database-url with no key: exit %d, stderr %q", code, errOut)
	}

}
