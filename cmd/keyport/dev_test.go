package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone/cxonesim"
)

// The tests in this file run the built binary's `dev` in a directory of its
// own, as `make dev` does in a checkout.

// devPorts returns n ports free at the time of asking.
func devPorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// toolEnv is the environment of a child keyport: the test's, without any
// KEYPORT_ setting, plus extra.
func toolEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYPORT_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

func devArgs(dir string, ports []int) []string {
	return []string{"dev", "--dir", filepath.Join(dir, ".keyport"), "--addr", "127.0.0.1:" + strconv.Itoa(ports[0]),
		"--sim-addr", "127.0.0.1:" + strconv.Itoa(ports[1]), "--pg-port", strconv.Itoa(ports[2])}
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func TestDevRefusesATakenPortBeforeStartingPostgres(t *testing.T) {
	bin := keyportBinary(t)
	for i, name := range []string{"the portal", "the CXone simulator", "PostgreSQL"} {
		t.Run(name+"'s port taken", func(t *testing.T) {
			dir := t.TempDir()
			ports := devPorts(t, 3)
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports[i]))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cmd := exec.Command(bin, devArgs(dir, ports)...)
			cmd.Dir, cmd.Env = dir, toolEnv()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			if code := processExit(err); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			want := "dev: port " + strconv.Itoa(ports[i]) + " (" + name
			if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "make dev PORT=") {
				t.Errorf("stderr = %q, want %q and the make dev PORT=… SIM_PORT=… PG_PORT=… fix", stderr.String(), want)
			}
			if strings.Contains(stdout.String(), "Starting PostgreSQL") {
				t.Errorf("stdout = %q: PostgreSQL was being started", stdout.String())
			}
			if _, err := os.Stat(filepath.Join(dir, ".keyport", "pg", "data", "postmaster.pid")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("postmaster.pid: %v, want none", err)
			}
			for j, p := range ports {
				if j != i && listening(p) {
					t.Errorf("port %d answers after the refusal", p)
				}
			}
		})
	}
}

// devProcess is a running `keyport dev`.
type devProcess struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout []string // lines
	stderr lockedBuffer
	banner chan struct{}
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDev runs `keyport dev` in dir and waits for its banner.
func startDev(t *testing.T, dir string, ports []int, env ...string) *devProcess {
	t.Helper()
	p := &devProcess{t: t, banner: make(chan struct{}), done: make(chan error, 1)}
	p.cmd = exec.Command(keyportBinary(t), devArgs(dir, ports)...)
	p.cmd.Dir, p.cmd.Env, p.cmd.Stderr = dir, toolEnv(env...), &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout = append(p.stdout, sc.Text())
			p.mu.Unlock()
			if strings.HasPrefix(strings.TrimSpace(sc.Text()), "Stop ") {
				close(p.banner)
			}
		}
		p.done <- p.cmd.Wait()
	}()
	select {
	case <-p.banner:
	case err := <-p.done:
		t.Fatalf("keyport dev exited (%v) before its banner; stdout:\n%s\nstderr:\n%s", err, p.out(), p.stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("no banner within 3 minutes; stderr:\n%s", p.stderr.String())
	}
	return p
}

func (p *devProcess) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stdout, "\n")
}

// stop sends Ctrl-C's signal and waits for a clean exit.
func (p *devProcess) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("keyport dev after SIGINT: %v; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(time.Minute):
		p.t.Fatal("keyport dev did not stop within a minute of SIGINT")
	}
}

// tool runs another keyport command in dir, as a developer beside make dev.
func tool(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(keyportBinary(t), args...)
	cmd.Dir, cmd.Env = dir, toolEnv(env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	code = processExit(cmd.Run())
	return o.String(), e.String(), code
}

// processExit is a child process's exit code (-1 when it did not run).
func processExit(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

func getOK(t *testing.T, u string) []byte {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	return b.Bytes()
}

// na1Admin returns the first na1 tenant of the running simulator and its admin.
func na1Admin(t *testing.T, simURL string) (tenantID, userID string) {
	t.Helper()
	var tenants []cxonesim.Tenant
	if err := json.Unmarshal(getOK(t, simURL+"/control/tenants"), &tenants); err != nil {
		t.Fatal(err)
	}
	for _, x := range tenants {
		if x.Region == "na1" {
			return x.ID, x.Users[0].ID
		}
	}
	t.Fatal("no na1 tenant")
	return "", ""
}

// connectPortal connects to the simulator through the portal's form, as an
// admin does after Generate Key, so that the portal calls CXone.
func connectPortal(t *testing.T, portal, simURL string) {
	t.Helper()
	ten, user := na1Admin(t, simURL)
	basic, err := cxonesim.RequestBasicToken(t.Context(), simURL, "na1", ten, user)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(portal+"/connect", url.Values{"region": {"na1"}, "basic_token": {basic.Reveal()}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect: %d", res.StatusCode)
	}
}

// simCreateKey makes a key in the running simulator as the first na1
// tenant's admin, through the API Keyport uses, and returns its id.
func simCreateKey(t *testing.T, simURL string) string {
	t.Helper()
	tenantID, userID := na1Admin(t, simURL)
	basic, err := cxonesim.RequestBasicToken(t.Context(), simURL, "na1", tenantID, userID)
	if err != nil {
		t.Fatal(err)
	}
	send := func(path, bearer, body string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, simURL+"/na1"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode >= 300 {
			t.Fatalf("POST %s: %d %v", path, res.StatusCode, err)
		}
		return out
	}
	bearer := send("/public/user/refresh", "", `{"token":"`+basic.Reveal()+`"}`)["token"].(string)
	k := send("/access-key-management/v1/access-keys", bearer, `{"userId":"`+userID+`","tenantId":"`+tenantID+`"}`)
	return k["accessKey"].(map[string]any)["accessKeyId"].(string)
}

// keyport sim --state refuses a file it cannot read, naming it, rather than
// starting afresh and forgetting the keys Keyport knows of.
func TestSimStateRefusesAnUnreadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"tenants":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, nil, "sim", "--addr", "127.0.0.1:0", "--state", path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("sim --state on a corrupt file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != `{"version":1,"tenants":[` {
		t.Error("the file was overwritten")
	}
}
