package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/pgtest"
)

// keyport health is the compose healthcheck: 0 only when the portal is ready.
func TestHealthExitsZeroOnlyWhenReady(t *testing.T) {
	env := validKeys()
	env["KEYPORT_DATABASE_URL"] = pgtest.NewEmptyDatabase(t)
	env["KEYPORT_ADDR"] = "127.0.0.1:0"
	base := serveForTest(t, env)

	out, errOut, err := runCmd(t, nil, "health", "--url", base+"/readyz")
	if err != nil || out != "ready\n" {
		t.Fatalf("health against a ready portal: %v, stdout %q, stderr %q", err, out, errOut)
	}
	// Without --url it asks KEYPORT_ADDR, the wildcard host on loopback.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	if _, errOut, err := runCmd(t, map[string]string{"KEYPORT_ADDR": "0.0.0.0:" + port}, "health"); err != nil {
		t.Fatalf("health via KEYPORT_ADDR=0.0.0.0:%s: %v %s", port, err, errOut)
	}

	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	_, errOut, err = runCmd(t, nil, "health", "--url", notReady.URL+"/readyz")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "503: database unreachable") {
		t.Errorf("health against a 503: exit %d, %v %q", exitCode(err), err, errOut)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/readyz"
	ln.Close()
	if _, _, err := runCmd(t, nil, "health", "--url", closed); exitCode(err) != 1 {
		t.Errorf("health against a closed port: exit %d (%v), want 1", exitCode(err), err)
	}
	if _, _, err := runCmd(t, map[string]string{"KEYPORT_ADDR": "no-port"}, "health"); exitCode(err) != 2 {
		t.Errorf("health with a bad KEYPORT_ADDR: exit %d (%v), want 2", exitCode(err), err)
	}
}
