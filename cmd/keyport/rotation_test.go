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
	r := &rotation{t: t, w: w, portals: []*portal{w.start(), w.start()}, a: w.newAdmin(), idle: w.newAdmin()}
	r.a.connect(r.portals[0].url)
	r.idle.connect(r.portals[1].url)
	created := r.a.do("POST", r.portals[0].url, "/keys", r.a.createForm(r.portals[0].url, "made before the rotation")) // a fingerprint under the first audit key
	if created.status != 200 || keyIDOnPage.FindStringSubmatch(created.body) == nil {
		t.Fatalf("create: %d %.500s", created.status, created.body)
	}
	w.keyportStdin("a long enough password\n", "reviewer", "add", "--username", "rotor", "--totp") // a sealed TOTP seed
	r.expires = w.scalar(`SELECT extract(epoch FROM max(expires_at))::bigint FROM sessions WHERE kind = 'admin'`)
	r.signedIn("before the rotation")
	w.keyport("audit", "checkpoint")
	for _, ring := range []string{config.SessionKey, config.EncryptionKey, config.AuditKey} {
		r.rotate(ring)
	}
	if n := w.scalar(`SELECT count(*) FROM audit_events WHERE action = 'keys.rekey'`); n != 6 {
		t.Errorf("%d keys.rekey events, want one per run (6)", n)
	}
}

// rotation is the world of TestRotatingEachKeyLosesNothing: two portals
// and an admin signed in before any key changed.
type rotation struct {
	t       *testing.T
	w       *world
	portals []*portal
	a       *admin
	idle    *admin // signed in too, but makes no request while the session key rotates
	expires int64  // the admin sessions' latest expiry, which no step may move
	step    int
}

// signedIn: on every portal the admin's keys page lists keys through its
// stored connection, and the session's expiry has not moved.
func (r *rotation) signedIn(when string) {
	r.t.Helper()
	for _, p := range r.portals {
		res := r.a.do("GET", p.url, "/keys", nil)
		if res.status != 200 || !strings.Contains(res.body, `data-testid="key-row"`) {
			r.t.Fatalf("%s: the admin's keys page on %s: %d %v %.300s", when, p.url, res.status, res.err, res.body)
		}
	}
	if got := r.w.scalar(`SELECT extract(epoch FROM max(expires_at))::bigint FROM sessions WHERE kind = 'admin'`); got != r.expires {
		r.t.Fatalf("%s: the session's expiry moved from %d to %d", when, r.expires, got)
	}
}

// restartBoth restarts the portals one at a time: the other keeps serving.
func (r *rotation) restartBoth() {
	r.t.Helper()
	for i, p := range r.portals {
		p.signal(syscall.SIGTERM)
		if code := p.wait(); code != 0 {
			r.t.Fatalf("portal %d exited %d:\n%s", i+1, code, p.logs)
		}
		r.portals[i] = r.w.start()
	}
}

// idleSessionHoldsTheOldKey: the session that made no request since the
// new session key went first still needs the old key (keys status says
// so); its next request, on either portal, re-signs it.
func (r *rotation) idleSessionHoldsTheOldKey(rows map[string][]string, oldID, status string) {
	r.t.Helper()
	if row := rows[config.SessionKey+" "+oldID]; row == nil || row[3] != "yes" || !strings.HasPrefix(row[4], "sessions 1 (until ") {
		r.t.Fatalf("with a session signed by the old session key %s still idle: %q, want NEEDED yes, sessions 1\n%s", oldID, row, status)
	}
	res := r.idle.do("GET", r.portals[1].url, "/keys", nil)
	if res.status != 200 || !strings.Contains(res.body, `data-testid="key-row"`) {
		r.t.Fatalf("the idle admin, back: %d %.300s", res.status, res.body)
	}
	r.log(config.SessionKey, "the idle session's next request re-signs its cookie; keyport keys status again")
}

// log records a runbook step as the test runs it.
func (r *rotation) log(ring, format string, args ...any) {
	r.step++
	r.t.Logf("runbook %s, step %d: %s", ring, r.step, fmt.Sprintf(format, args...))
}

// rotate runs docs/security.md's runbook for one ring.
func (r *rotation) rotate(ring string) {
	t, w := r.t, r.w
	r.step = 0
	old, fresh := w.getenv(ring), newKey()
	oldID, newID := keyID(t, old), keyID(t, fresh)

	w.setenv(ring, old+","+fresh)
	r.log(ring, "%s=<old %s>,<new %s> on both portals (new key second); restart both, one at a time", ring, oldID, newID)
	r.restartBoth()
	r.signedIn(ring + ": new key second")
	w.verifiesEveryCheckpoint(ring+": new key second", auditID(t, w))

	w.setenv(ring, fresh+","+old)
	r.log(ring, "%s=<new %s>,<old %s> on both portals (new key first); restart both, one at a time", ring, newID, oldID)
	r.restartBoth()
	r.signedIn(ring + ": new key first") // re-signs the session cookie with the new key
	w.keyport("audit", "checkpoint")
	if ring == config.AuditKey {
		w.verifiesEveryCheckpoint(ring+": new key first", oldID, newID)
	} else {
		w.verifiesEveryCheckpoint(ring+": new key first", auditID(t, w))
	}

	r.log(ring, "keyport rekey")
	out := w.keyport("rekey")
	t.Logf("  %s", strings.ReplaceAll(strings.TrimSpace(out), "\n", "\n  "))
	if again := w.keyport("rekey"); !strings.Contains(again, "tokens: 0 re-sealed") || !strings.Contains(again, "session data: 0 re-sealed") {
		t.Fatalf("a second rekey found work:\n%s", again)
	}
	r.log(ring, "keyport keys status")
	status := w.keyport("keys", "status")
	t.Logf("  %s", strings.ReplaceAll(strings.TrimSpace(status), "\n", "\n  "))
	rows := statusRows(t, status)
	if ring == config.SessionKey {
		r.idleSessionHoldsTheOldKey(rows, oldID, status)
		status = w.keyport("keys", "status")
		rows = statusRows(t, status)
	}
	if row := rows[ring+" "+oldID]; row == nil || row[3] != "no" {
		t.Fatalf("after the rekey, %s's old key %s: %q, want NEEDED no\n%s", ring, oldID, row, status)
	}
	for k, row := range rows {
		if strings.HasPrefix(k, ring+" ") && row[1] != newID && row[3] != "no" {
			t.Fatalf("after the rekey, %s still needs key %s: %q\n%s", ring, row[1], row, status)
		}
	}

	w.setenv(ring, fresh)
	r.log(ring, "%s=<new %s> on both portals (old key %s retired); restart both, one at a time", ring, newID, oldID)
	r.restartBoth()
	r.signedIn(ring + ": old key retired")
	w.keyport("audit", "checkpoint")
	w.verifiesEveryCheckpoint(ring+": old key retired", auditID(t, w))
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
