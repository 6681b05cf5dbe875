package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone/cxonesim"
)

var (
	secretOnPage = regexp.MustCompile(`data-testid="key-secret"[^>]*>\s*([A-Z2-7]{52}====)`)
	keyIDOnPage  = regexp.MustCompile(`data-testid="key-id"[^>]*>\s*([A-Z2-7]{52}====)`)
)

func isCreate(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/access-key-management/v1/access-keys")
}

// checkpointCoversTheTrail: the newest signed checkpoint names the last event.
func (w *world) checkpointCoversTheTrail() {
	w.t.Helper()
	last := w.scalar(`SELECT coalesce(max(id), 0) FROM audit_events`)
	cp := w.scalar(`SELECT coalesce((SELECT last_event_id FROM audit_checkpoints ORDER BY id DESC LIMIT 1), 0)`)
	if cp != last {
		w.t.Errorf("the newest checkpoint covers event %d, the trail ends at %d", cp, last)
	}
}

// keyport runs a one-shot subcommand of the built binary against the world.
func (w *world) keyport(args ...string) string {
	w.t.Helper()
	cmd := exec.Command(keyportBinary(w.t), args...)
	cmd.Env = w.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("keyport %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kill -9 while a create is in flight: CXone makes the key, the portal
// never hears of it. After a restart, one key list (and, separately,
// `keyport reconcile`) names the key as secret-lost, no intent is left
// open, and the chain verifies.
func TestKill9MidCreateIsSettledAfterRestart(t *testing.T) {
	for _, settleBy := range []string{"list", "reconcile"} {
		t.Run(settleBy, func(t *testing.T) {
			w := newWorld(t)
			p := w.start()
			a := w.newAdmin()
			a.connect(p.url)
			form := a.createForm(p.url, "killed mid-create")
			before := w.sim.Calls(cxonesim.EndpointCreate)
			seeded, _ := w.sim.Tenant("na1", w.admin.tenant)
			w.onCXone(func(r *http.Request) {
				if isCreate(r) {
					// Read the whole request first: once the portal is gone its
					// socket resets, and CXone must still make the key.
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					_ = p.cmd.Process.Kill()
				}
			})
			if r := a.do("POST", p.url, "/keys", form); r.err == nil {
				t.Fatalf("the create answered %d although the portal was killed", r.status)
			}
			p.wait()
			w.onCXone(nil)
			// The simulator makes the key after the hook (the kill) returns:
			// wait until it holds it, briefly.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				now, _ := w.sim.Tenant("na1", w.admin.tenant)
				if len(now.Keys) == len(seeded.Keys)+1 && w.sim.Calls(cxonesim.EndpointCreate) == before+1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("CXone never made the key")
				}
			}
			p2 := w.start()
			if settleBy == "reconcile" {
				w.keyport("reconcile", "--older-than", "0s")
			}
			keys := a.do("GET", p2.url, "/keys", nil)
			if keys.status != 200 || !strings.Contains(keys.body, `data-testid="secret-lost"`) {
				t.Fatalf("after restart the keys page (%d) does not flag the lost secret:\n%.2000s", keys.status, keys.body)
			}
			if n := w.scalar(`SELECT count(*) FROM key_metadata WHERE secret_lost AND label = 'killed mid-create'`); n != 1 {
				t.Fatalf("%d keys flagged secret-lost with the create's label, want 1", n)
			}
			if n := w.openIntents(); n != 0 {
				t.Fatalf("%d intents left without an outcome", n)
			}
			if out := w.keyport("audit", "verify"); !strings.Contains(out, "OK") && !strings.Contains(strings.ToLower(out), "verified") {
				t.Fatalf("keyport audit verify: %s", out)
			}
		})
	}
}

// SIGTERM at the start of a slow create, and SIGTERM just after CXone
// answered: the person still gets the page with the secret, the process
// exits 0, no intent is open, and the newest checkpoint covers the last event.
func TestSIGTERMDuringACreateStillDeliversTheSecret(t *testing.T) {
	for _, when := range []string{"at the start of a slow create", "just after CXone answered"} {
		t.Run(when, func(t *testing.T) {
			w := newWorld(t)
			p := w.start()
			a := w.newAdmin()
			a.connect(p.url)
			form := a.createForm(p.url, "stopped mid-create")
			if when == "at the start of a slow create" {
				w.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointCreate, Mode: cxonesim.Slow, Delay: 1500 * time.Millisecond})
				w.onCXone(func(r *http.Request) {
					if isCreate(r) {
						p.signal(syscall.SIGTERM)
					}
				})
			} else {
				w.onCXoneAfter(func(r *http.Request) {
					if isCreate(r) {
						p.signal(syscall.SIGTERM)
					}
				})
			}
			r := a.do("POST", p.url, "/keys", form)
			if r.err != nil || r.status != 200 || secretOnPage.FindStringSubmatch(r.body) == nil {
				t.Fatalf("the create answered %d %v without the secret:\n%.1500s\nlogs:\n%s", r.status, r.err, r.body, p.logs)
			}
			if code := p.wait(); code != 0 {
				t.Fatalf("exit status %d after SIGTERM:\n%s", code, p.logs)
			}
			if n := w.openIntents(); n != 0 {
				t.Fatalf("%d intents left open", n)
			}
			w.checkpointCoversTheTrail()
		})
	}
}

// Two instances on one database: create on one; the secret is in that
// answer, and every follow-up (the .env download, "verify it now") works on
// the other. A burst from one session across both instances gets as many
// creates as against one.
func TestTwoInstancesServeOneAdmin(t *testing.T) {
	w := newWorld(t)
	// 4 a minute: bursts of 2, one more every 15 s, far longer than a burst.
	w.env = append(w.env, "KEYPORT_TRUSTED_PROXIES=127.0.0.1/32", "KEYPORT_RATE_LIMIT=4")
	p1, p2 := w.start(), w.start()
	a := w.newAdmin()
	a.connect(p1.url)
	created := a.do("POST", p1.url, "/keys", a.createForm(p1.url, "two instances"))
	sec, id := secretOnPage.FindStringSubmatch(created.body), keyIDOnPage.FindStringSubmatch(created.body)
	if created.status != 200 || sec == nil || id == nil {
		t.Fatalf("create on the first instance: %d\n%.1500s", created.status, created.body)
	}
	env := a.do("POST", p2.url, "/keys/"+url.PathEscape(id[1])+"/env", url.Values{"access_key_secret": {sec[1]}})
	if env.status != 200 || !strings.Contains(env.body, "CXONE_ACCESS_KEY_SECRET="+sec[1]) {
		t.Fatalf(".env download on the second instance: %d %.300s", env.status, env.body)
	}
	verify := a.do("POST", p2.url, "/keys/"+url.PathEscape(id[1])+"/verify", url.Values{"access_key_secret": {sec[1]}})
	if verify.status != 303 {
		t.Fatalf("verify on the second instance: %d %.500s", verify.status, verify.body)
	}
	keys := a.do("GET", p2.url, "/keys", nil)
	if !strings.Contains(keys.body, "works") {
		t.Fatalf("the second instance's keys page does not say the key works:\n%.1500s", keys.body)
	}

	c := w.newAdmin()
	c.connect(p1.url)
	one := c.burst([]string{p1.url}, 14)
	b := w.newAdmin()
	b.connect(p1.url)
	two := b.burst([]string{p1.url, p2.url}, 14)
	if one == 0 || one >= 14 || two != one {
		t.Fatalf("a burst of 14 creates: %d made against one instance, %d across two; want the same number, limited", one, two)
	}
}

// burst sends n create forms from one session (and one client address),
// taking turns between the instances, and counts the ones that made a key.
func (a *admin) burst(bases []string, n int) int {
	a.w.t.Helper()
	made := 0
	for i := range n {
		base := bases[i%len(bases)]
		form := a.createForm(base, "burst")
		req, _ := http.NewRequest("POST", base+"/keys", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		req.Header.Set("X-Forwarded-For", a.ip)
		res, err := a.http.Do(req)
		if err != nil {
			a.w.t.Fatal(err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case 200:
			made++
		case http.StatusTooManyRequests:
		default:
			a.w.t.Fatalf("create %d: status %d", i, res.StatusCode)
		}
	}
	return made
}
