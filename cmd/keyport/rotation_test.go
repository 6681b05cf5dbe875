package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/keyring"
)

// Rotating each of Keyport's three keys in turn, with two portals on one
// database, by docs/security.md's runbook: the new key second everywhere,
// restart both; the new key first, restart both; `keyport rekey`; the old
// key removed, restart both. Throughout, an admin signed in before the
// first step stays signed in (its session keeps its expiry), its stored
// connection keeps listing keys from the simulator, every checkpoint
// verifies, and after the rekey `keyport keys status` says nothing needs
// the old key. The runbook's commands are logged as they run (go test -v).
func TestRotatingEachKeyLosesNothing(t *testing.T) {
	w := newWorld(t)
	p1, p2 := w.start(), w.start()
	portals := []*portal{p1, p2}
	a := w.newAdmin()
	a.connect(p1.url)
	created := a.do("POST", p1.url, "/keys", a.createForm(p1.url, "made before the rotation")) // a fingerprint under the first audit key
	if created.status != 200 || keyIDOnPage.FindStringSubmatch(created.body) == nil {
		t.Fatalf("create: %d %.500s", created.status, created.body)
	}
	w.keyportStdin("a long enough password\n", "reviewer", "add", "--username", "rotor", "--totp") // a sealed TOTP seed
	expires := w.scalar(`SELECT extract(epoch FROM max(expires_at))::bigint FROM sessions WHERE kind = 'admin'`)
	signedIn := func(when string) {
		t.Helper()
		for _, p := range portals {
			r := a.do("GET", p.url, "/keys", nil)
			if r.status != 200 || !strings.Contains(r.body, `data-testid="key-row"`) {
				t.Fatalf("%s: the admin's keys page on %s: %d %v %.300s", when, p.url, r.status, r.err, r.body)
			}
		}
		if got := w.scalar(`SELECT extract(epoch FROM max(expires_at))::bigint FROM sessions WHERE kind = 'admin'`); got != expires {
			t.Fatalf("%s: the session's expiry moved from %d to %d", when, expires, got)
		}
	}
	signedIn("before the rotation")
	w.keyport("audit", "checkpoint")

	step := 0
	run := func(ring, format string, args ...any) {
		step++
		t.Logf("runbook %s, step %d: %s", ring, step, fmt.Sprintf(format, args...))
	}
	restartBoth := func() {
		t.Helper()
		for i, p := range portals { // one at a time: the other keeps serving
			p.signal(syscall.SIGTERM)
			if code := p.wait(); code != 0 {
				t.Fatalf("portal %d exited %d:\n%s", i+1, code, p.logs)
			}
			portals[i] = w.start()
		}
	}
	for _, ring := range []string{config.SessionKey, config.EncryptionKey, config.AuditKey} {
		step = 0
		old, fresh := w.getenv(ring), newKey()
		oldID, newID := keyID(t, old), keyID(t, fresh)

		w.setenv(ring, old+","+fresh)
		run(ring, "%s=<old %s>,<new %s> on both portals (new key second); restart both, one at a time", ring, oldID, newID)
		restartBoth()
		signedIn(ring + ": new key second")
		w.verifiesEveryCheckpoint(ring+": new key second", auditID(t, w))

		w.setenv(ring, fresh+","+old)
		run(ring, "%s=<new %s>,<old %s> on both portals (new key first); restart both, one at a time", ring, newID, oldID)
		restartBoth()
		signedIn(ring + ": new key first") // re-signs the session cookie with the new key
		w.keyport("audit", "checkpoint")
		if ring == config.AuditKey {
			w.verifiesEveryCheckpoint(ring+": new key first", oldID, newID)
		} else {
			w.verifiesEveryCheckpoint(ring+": new key first", auditID(t, w))
		}

		run(ring, "keyport rekey")
		out := w.keyport("rekey")
		t.Logf("  %s", strings.ReplaceAll(strings.TrimSpace(out), "\n", "\n  "))
		if again := w.keyport("rekey"); !strings.Contains(again, "tokens: 0 re-sealed") || !strings.Contains(again, "session data: 0 re-sealed") {
			t.Fatalf("a second rekey found work:\n%s", again)
		}
		run(ring, "keyport keys status")
		status := w.keyport("keys", "status")
		t.Logf("  %s", strings.ReplaceAll(strings.TrimSpace(status), "\n", "\n  "))
		rows := statusRows(t, status)
		if r := rows[ring+" "+oldID]; r == nil || r[3] != "no" {
			t.Fatalf("after the rekey, %s's old key %s: %q, want NEEDED no\n%s", ring, oldID, r, status)
		}
		for k, r := range rows {
			if strings.HasPrefix(k, ring+" ") && r[1] != newID && r[3] != "no" {
				t.Fatalf("after the rekey, %s still needs key %s: %q\n%s", ring, r[1], r, status)
			}
		}

		w.setenv(ring, fresh)
		run(ring, "%s=<new %s> on both portals (old key %s retired); restart both, one at a time", ring, newID, oldID)
		restartBoth()
		signedIn(ring + ": old key retired")
		w.keyport("audit", "checkpoint")
		w.verifiesEveryCheckpoint(ring+": old key retired", auditID(t, w))
	}
	if n := w.scalar(`SELECT count(*) FROM audit_events WHERE action = 'keys.rekey'`); n != 6 {
		t.Errorf("%d keys.rekey events, want one per run (6)", n)
	}
}

// verifiesEveryCheckpoint runs `keyport audit verify`: the trail verifies,
// every checkpoint is either verified with a key of the audit ring (with
// each of mustSign among them) or named as signed with a retired key, and
// none is both.
func (w *world) verifiesEveryCheckpoint(when string, mustSign ...string) {
	w.t.Helper()
	out := w.keyport("audit", "verify")
	if !strings.HasPrefix(out, "verified ") {
		w.t.Fatalf("%s: audit verify:\n%s", when, out)
	}
	ring := ringIDs(w.t, w.getenv(config.AuditKey))
	verified := map[string]int64{}
	var total int64
	for _, m := range verifiedWith.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		verified[m[2]] += n
		total += n
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "not checked") {
			continue
		}
		m := notChecked.FindStringSubmatch(line)
		if m == nil || strings.Contains(ring, m[1]) {
			w.t.Fatalf("%s: %s", when, line)
		}
		total++
	}
	if want := w.scalar(`SELECT count(*) FROM audit_checkpoints`); total != want {
		w.t.Fatalf("%s: %d checkpoints accounted for, %d stored:\n%s", when, total, want, out)
	}
	for _, id := range mustSign {
		if verified[id] == 0 {
			w.t.Fatalf("%s: no checkpoint verified with audit key %s:\n%s", when, id, out)
		}
	}
}

var verifiedWith = regexp.MustCompile(`(\d+) with audit key ([0-9a-f]{8})`)

var notChecked = regexp.MustCompile(`not checked: signed with audit key ([0-9a-f]{8}), which is not in KEYPORT_AUDIT_KEY`)

// auditID is the newest audit key's id.
func auditID(t *testing.T, w *world) string {
	return keyID(t, strings.Split(w.getenv(config.AuditKey), ",")[0])
}

// ringIDs is the ids of a ring given as the variable holds it.
func ringIDs(t *testing.T, v string) string {
	var ids []string
	for _, k := range strings.Split(v, ",") {
		ids = append(ids, keyID(t, k))
	}
	return strings.Join(ids, ",")
}

func keyID(t *testing.T, v string) string {
	t.Helper()
	k, err := config.ParseKey(v)
	if err != nil {
		t.Fatal(err)
	}
	return keyring.ID(k)
}

// statusRows reads `keyport keys status`: "RING KEY" → its columns.
func statusRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), 5)
		if i == 0 || len(cols) < 5 {
			continue
		}
		rows[cols[0]+" "+cols[1]] = cols
	}
	return rows
}

func (w *world) getenv(name string) string {
	for _, kv := range w.env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// setenv replaces a variable for the processes started from now on.
func (w *world) setenv(name, value string) {
	for i, kv := range w.env {
		if strings.HasPrefix(kv, name+"=") {
			w.env[i] = name + "=" + value
			return
		}
	}
	w.env = append(w.env, name+"="+value)
}

// keyportStdin is keyport with stdin.
func (w *world) keyportStdin(stdin string, args ...string) string {
	w.t.Helper()
	cmd := exec.CommandContext(context.Background(), keyportBinary(w.t), args...)
	cmd.Env, cmd.Stdin = w.env, strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("keyport %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
