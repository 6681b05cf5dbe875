// Package composetest runs the real docker-compose.yml against a real Docker
// Engine: make compose-test (scripts/compose-test.sh) prepares the engine,
// Compose and the stand-in images, then runs this test with
// KEYPORT_COMPOSE_TEST set. Without it the test skips, so
// make test (no engine) only compiles and vets it.
//
// Every check logs its figure ("figure: …") so the run's output is the report.
package composetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// project is one copy of the repository brought up with Compose under its
// own project name, so a developer's own `keyport` project and volumes are
// never touched.
type project struct {
	t                  *testing.T
	dir                string
	portal, sim        string // http://127.0.0.1:port
	secrets            map[string]string
	logs               strings.Builder // docker compose logs of containers since removed
	adminTenant, admin string
}

const projectName = "keyport-composetest"

func TestCompose(t *testing.T) {
	if os.Getenv("KEYPORT_COMPOSE_TEST") == "" {
		t.Skip("run by make compose-test (scripts/compose-test.sh), which sets KEYPORT_COMPOSE_TEST")
	}
	p := newProject(t)
	p.compose("down", "-v", "--remove-orphans") // what an interrupted run left
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.composeErr("logs", "--no-color", "--tail", "60")
			t.Logf("docker compose logs (tail):\n%s", out)
		}
		p.compose("down", "-v", "--remove-orphans")
	})

	p.upHealthy()
	p.imageFacts()
	admin, kept := p.demoFlow()
	p.reviewerSeesTrail(kept)
	p.postgresRestart(admin, kept)
	p.stopDrains()
	p.downUpKeeps(admin, kept)
	p.backupRestore(kept)
	p.noSecretsLeak()
}

func newProject(t *testing.T) *project {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Out of the repository's tree (scripts/fuzz.sh greps it), removed at the end.
	dir := t.TempDir()
	// A fresh checkout, as a new user has it: the tracked and the new
	// (not ignored) files of this working tree.
	ls, err := exec.Command("git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00") {
		src := filepath.Join(repo, f)
		fi, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the working tree
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}

	// cp .env.example .env, keys filled in; then the demo's lines.
	p := &project{t: t, dir: dir, secrets: map[string]string{}}
	portalPort, simPort := freePort(t), freePort(t)
	p.portal, p.sim = "http://127.0.0.1:"+portalPort, "http://127.0.0.1:"+simPort
	ex, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	var env strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(ex), "\n"), "\n") {
		switch k, _, _ := strings.Cut(line, "="); k {
		case "POSTGRES_PASSWORD":
			p.secrets[k] = randomHex(16)
			line = k + "=" + p.secrets[k]
		case "KEYPORT_SESSION_KEY", "KEYPORT_ENCRYPTION_KEY", "KEYPORT_AUDIT_KEY":
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			p.secrets[k] = base64.StdEncoding.EncodeToString(b)
			line = k + "=" + p.secrets[k]
		}
		env.WriteString(line + "\n")
	}
	demo, err := os.ReadFile(filepath.Join(dir, "deploy", "demo.env"))
	if err != nil {
		t.Fatal(err)
	}
	env.Write(demo)
	fmt.Fprintf(&env, "KEYPORT_PORT=%s\nKEYPORT_SIM_PORT=%s\n", portalPort, simPort)
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// composeErr runs docker compose in the project (demo profile on) and
// returns its combined output.
func (p *project) composeErr(args ...string) (string, error) {
	return p.composeIn("", args...)
}

func (p *project) composeIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command("docker", append([]string{"compose", "-p", projectName, "--profile", "demo"}, args...)...)
	cmd.Dir = p.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// compose runs docker compose and fails the test if it fails.
func (p *project) compose(args ...string) string {
	p.t.Helper()
	out, err := p.composeErr(args...)
	if err != nil {
		p.t.Fatalf("docker compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (p *project) containerID(service string) string {
	return strings.TrimSpace(p.compose("ps", "-a", "-q", service))
}

// psql runs one query in the postgres container and returns its one value.
func (p *project) psql(query string) string {
	p.t.Helper()
	return strings.TrimSpace(p.compose("exec", "-T", "postgres", "psql", "-U", "keyport", "-d", "keyport", "-Atc", query))
}

// waitHealthy waits until postgres, keyport and sim are healthy and migrate
// exited 0, and returns how long that took.
func (p *project) waitHealthy(since time.Time) time.Duration {
	p.t.Helper()
	want := map[string]bool{"postgres": true, "keyport": true, "sim": true}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		out := p.compose("ps", "-a", "--format", "json")
		var state []string
		ok := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var c struct{ Service, State, Health string }
			var code int
			var raw map[string]any
			if json.Unmarshal([]byte(line), &raw) != nil || json.Unmarshal([]byte(line), &c) != nil {
				continue
			}
			if f, isNum := raw["ExitCode"].(float64); isNum {
				code = int(f)
			}
			state = append(state, fmt.Sprintf("%s=%s/%s/%d", c.Service, c.State, c.Health, code))
			switch {
			case want[c.Service] && c.State == "running" && c.Health == "healthy":
				ok++
			case c.Service == "migrate" && c.State == "exited" && code == 0:
				ok++
			case c.Service == "migrate" && c.State == "exited":
				p.t.Fatalf("migrate exited %d:\n%s", code, p.compose("logs", "--no-color", "migrate"))
			}
		}
		if ok == 4 {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("not healthy after 5 minutes: %v", state)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (p *project) upHealthy() {
	t0 := time.Now()
	p.compose("build")
	p.t.Logf("figure: docker compose build: %.1f s", time.Since(t0).Seconds())
	t1 := time.Now()
	p.compose("up", "-d", "--build")
	d := p.waitHealthy(t1)
	p.t.Logf("figure: up -d --build to every service healthy (postgres, sim, keyport; migrate exited 0): %.1f s", d.Seconds())
}

func (p *project) imageFacts() {
	user := docker(p.t, "image", "inspect", "-f", "{{.Config.User}}", "keyport:latest")
	size, _ := strconv.ParseInt(docker(p.t, "image", "inspect", "-f", "{{.Size}}", "keyport:latest"), 10, 64)
	// The processes themselves, as the kernel sees them.
	top := docker(p.t, "top", p.containerID("keyport"), "-o", "pid,uid,comm")
	for _, line := range strings.Split(top, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] != "65532" {
			p.t.Errorf("keyport container runs a process as uid %s: %q", f[1], line)
		}
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		p.t.Errorf("image user = %q, want non-root", user)
	}
	p.t.Logf("figure: image keyport:latest runs as %q (processes uid 65532), size %.1f MB", user, float64(size)/1e6)
}

func (p *project) stopDrains() {
	id := p.containerID("keyport")
	t0 := time.Now()
	p.compose("stop", "keyport")
	d := time.Since(t0)
	code := docker(p.t, "inspect", "-f", "{{.State.ExitCode}}", id)
	if code != "0" {
		p.t.Errorf("keyport exited %s on stop, want 0", code)
	}
	if d >= 100*time.Second {
		p.t.Errorf("stop took %v: Docker killed it at the grace period", d)
	}
	p.t.Logf("figure: docker compose stop keyport: exit code %s in %.1f s (grace period 100 s)", code, d.Seconds())
}

func (p *project) downUpKeeps(admin *browser, kept string) {
	events := p.psql(`SELECT count(*) || ' ' || max(id) FROM audit_events`)
	n, maxID, _ := strings.Cut(events, " ")
	label := p.psql(`SELECT label FROM key_metadata WHERE access_key_id = '` + kept + `'`)
	p.keepLogs()
	p.compose("down")
	t0 := time.Now()
	p.compose("up", "-d")
	d := p.waitHealthy(t0)
	if got := p.psql(`SELECT count(*) FROM audit_events WHERE id <= ` + maxID); got != n {
		p.t.Errorf("after down + up the trail holds %s of its %s events", got, n)
	}
	if got := p.psql(`SELECT label FROM key_metadata WHERE access_key_id = '` + kept + `'`); got != label || label == "" {
		p.t.Errorf("after down + up key %s is labelled %q, was %q", kept, got, label)
	}
	// The admin's session, the simulator's state and the key's label all
	// survived: the list still shows it with its label.
	if list := admin.must(200, "GET", "/keys", nil).body; !strings.Contains(list, label) {
		p.t.Errorf("after down + up /keys does not show %q", label)
	}
	out, err := p.composeErr("exec", "-T", "keyport", "keyport", "audit", "verify")
	if err != nil {
		p.t.Fatalf("keyport audit verify in the container: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	p.t.Logf("figure: down + up healthy again in %.1f s; %s events and key %s (%q) kept; audit verify: %s",
		d.Seconds(), n, kept, label, lines[len(lines)-1])
}

// keepLogs keeps the containers' logs before down removes them.
func (p *project) keepLogs() {
	p.logs.WriteString(p.compose("logs", "--no-color"))
}

// noSecretsLeak: no secret from .env (nor the basic token, the reviewer's
// password or a key's secret) is in docker compose logs or in the labels of
// the containers and the image.
func (p *project) noSecretsLeak() {
	p.keepLogs()
	logs := p.logs.String()
	var where []string
	for _, id := range strings.Fields(p.compose("ps", "-a", "-q")) {
		where = append(where, docker(p.t, "inspect", "-f", "{{json .Config.Labels}}", id))
	}
	where = append(where, docker(p.t, "image", "inspect", "-f", "{{json .Config.Labels}} {{json .Config.Env}}", "keyport:latest"))
	labels := strings.Join(where, "\n")
	inEnv := 0
	for name, v := range p.secrets {
		if strings.Contains(logs, v) {
			p.t.Errorf("docker compose logs show the %s", name)
		}
		if strings.Contains(labels, v) {
			p.t.Errorf("docker inspect labels (or the image's config) show the %s", name)
		}
		if strings.Contains(docker(p.t, "inspect", "-f", "{{json .Config.Env}}", p.containerID("keyport")), v) {
			inEnv++
		}
	}
	p.t.Logf("figure: %d secrets checked: none in docker compose logs (%d bytes) or in labels; %d are in the keyport container's Config.Env (env_file, visible to whoever holds the Docker socket)",
		len(p.secrets), len(logs), inEnv)
}
