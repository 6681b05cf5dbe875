package composetest

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// outage is what the portal's clients saw while PostgreSQL restarted.
type outage struct {
	mu                  sync.Mutex
	firstDown, lastDown time.Time
	ready               map[string]int // /readyz answers by status
	toggles             map[int]int    // the admin's refused toggles by status
	acked, refused      int
}

func (o *outage) down() {
	if o.firstDown.IsZero() {
		o.firstDown = time.Now()
	}
	o.lastDown = time.Now()
}

const readyPoll = 20 * time.Millisecond

// pollReady asks /readyz every readyPoll, as an orchestrator would.
func (o *outage) pollReady(portal string, stop <-chan struct{}) {
	c := &http.Client{Timeout: 3 * time.Second}
	for {
		select {
		case <-stop:
			return
		case <-time.After(readyPoll):
		}
		status := "error"
		if res, err := c.Get(portal + "/readyz"); err == nil {
			res.Body.Close()
			status = strconv.Itoa(res.StatusCode)
		}
		o.mu.Lock()
		o.ready[status]++
		if status != "200" {
			o.down()
		}
		o.mu.Unlock()
	}
}

// toggle is an admin at work: deactivate, activate, … about four a second.
func (o *outage) toggle(admin *browser, key string, stop <-chan struct{}) {
	op := "deactivate"
	for {
		select {
		case <-stop:
			return
		case <-time.After(250 * time.Millisecond):
		}
		pg, err := admin.try("POST", "/keys/"+key+"/"+op, url.Values{})
		o.mu.Lock()
		if err == nil && pg.status == 303 && pg.location == "/keys" {
			o.acked++
			op = map[string]string{"deactivate": "activate", "activate": "deactivate"}[op]
		} else {
			o.refused++
			o.toggles[pg.status]++ // 0: no answer at all
			o.down()
		}
		o.mu.Unlock()
	}
}

// postgresRestart restarts PostgreSQL while an admin toggles a key and
// /readyz is polled every 20 ms (the restart itself takes well under a
// second: fast shutdown, no init). The portal must answer 503 meanwhile,
// recover by itself, and have every acknowledged toggle in the trail.
func (p *project) postgresRestart(admin *browser, kept string) {
	o := &outage{ready: map[string]int{}, toggles: map[int]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); o.pollReady(p.portal, stop) }()
	go func() { defer wg.Done(); o.toggle(admin, kept, stop) }()
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	p.compose("restart", "postgres")
	restart := time.Since(t0)
	p.waitReady(2 * time.Minute) // by itself: nobody touches the portal
	time.Sleep(3 * time.Second)  // and some work on the recovered portal
	close(stop)
	wg.Wait()

	if o.firstDown.IsZero() {
		p.t.Errorf("neither /readyz nor the admin's requests saw the restart (%v)", o.ready)
	}
	for s := range o.ready {
		if s != "200" && s != "503" {
			p.t.Errorf("/readyz answered %s during the outage (want 503): %v", s, o.ready)
		}
	}
	for s := range o.toggles {
		if s != 503 {
			p.t.Errorf("an admin's request was answered %d during the outage (want 503): %v", s, o.toggles)
		}
	}
	// Nothing acknowledged is missing: every 303 is one success outcome in
	// the trail (a refused toggle has none, or one if it reached CXone and
	// its outcome was settled).
	got, _ := strconv.Atoi(p.psql(`SELECT count(*) FROM audit_events WHERE target_key_id = '` + kept +
		`' AND action IN ('key.activate', 'key.deactivate') AND outcome = 'success'`))
	if got < o.acked {
		p.t.Errorf("the trail has %d activate/deactivate successes for %s, but the portal acknowledged %d", got, kept, o.acked)
	}
	length := o.lastDown.Sub(o.firstDown) + readyPoll // first refusal seen to the last, plus one poll
	p.t.Logf("figure: docker compose restart postgres took %.1f s; the portal refused for %.2f s (/readyz answers %v); the admin's toggles: %d acknowledged, %d refused (%v), the trail holds %d successes for them",
		restart.Seconds(), length.Seconds(), o.ready, o.acked, o.refused, o.toggles, got)
}

// waitReady waits until /readyz answers 200.
func (p *project) waitReady(limit time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if res, err := http.Get(p.portal + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the portal was not ready again within %v", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
