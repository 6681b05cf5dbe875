package composetest

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// backupRestore follows docs/deploying.md: pg_dump through docker compose
// exec, then a restore into a fresh volume; the trail still verifies and the
// key keeps its label.
func (p *project) backupRestore(kept string) {
	n := p.psql(`SELECT count(*) FROM audit_events`)
	label := p.psql(`SELECT label FROM key_metadata WHERE access_key_id = '` + kept + `'`)
	t0 := time.Now()
	dump := p.composeBytes("exec", "-T", "postgres", "pg_dump", "-U", "keyport", "-d", "keyport", "--format=custom")
	p.compose("stop", "keyport")
	p.keepLogs()
	p.compose("down", "-v")
	p.compose("up", "-d", "--wait", "postgres")
	cmd := exec.Command("docker", "compose", "-p", projectName, "--profile", "demo",
		"exec", "-T", "postgres", "pg_restore", "-U", "keyport", "-d", "keyport", "--no-owner", "--exit-on-error")
	cmd.Dir, cmd.Stdin = p.dir, bytes.NewReader(dump)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	p.compose("up", "-d")
	p.waitHealthy(time.Now())
	if got := p.psql(`SELECT count(*) FROM audit_events`); atoi(got) < atoi(n) {
		p.t.Errorf("restored trail has %s events, the dump's database had %s", got, n)
	}
	if got := p.psql(`SELECT label FROM key_metadata WHERE access_key_id = '` + kept + `'`); got != label {
		p.t.Errorf("restored key %s is labelled %q, was %q", kept, got, label)
	}
	out, err := p.composeErr("exec", "-T", "keyport", "keyport", "audit", "verify")
	if err != nil {
		p.t.Fatalf("keyport audit verify after the restore: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	p.t.Logf("figure: pg_dump (%d KB) and restore into a fresh volume, healthy again, in %.1f s; audit verify: %s",
		len(dump)/1024, time.Since(t0).Seconds(), lines[len(lines)-1])
}

// composeBytes runs docker compose and returns its standard output.
func (p *project) composeBytes(args ...string) []byte {
	p.t.Helper()
	cmd := exec.Command("docker", append([]string{"compose", "-p", projectName, "--profile", "demo"}, args...)...)
	cmd.Dir = p.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		p.t.Fatalf("docker compose %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
