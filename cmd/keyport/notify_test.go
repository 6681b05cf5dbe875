package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/notify"
	"github.com/keyport/keyport/internal/notify/notifytest"
)

// TestNotificationsSurviveOutageAndSIGKILL: a webhook receiver is down
// while 1,500 events are appended, comes back, and the built portal
// delivering to it is killed with SIGKILL in the middle of a delivery (the
// receiver holds that request until the portal is dead). A second portal
// takes over from the cursor: the receiver ends up with every notification
// the trail calls for, in order, none lost; the message whose answer the
// dead portal never read arrives again, and the receiver, which keeps the
// ids it has seen, drops it (docs/auditing.md: at least once).
func TestNotificationsSurviveOutageAndSIGKILL(t *testing.T) {
	w := newWorld(t)
	const secret = "whsec_process-test"
	hook := notifytest.New(t, secret)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "notify.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = append(w.env, "KEYPORT_NOTIFY=webhook+"+hook.Srv.URL+"/in#hook", "KEYPORT_NOTIFY_SECRET_FILE="+secretFile,
		"SSL_CERT_FILE="+hook.CertFile(t, dir))
	hook.Down.Store(true)
	a := w.start()
	waitUntil(t, "the notification cursor exists", func() bool {
		return w.scalar(`SELECT count(*) FROM audit_sink_cursors WHERE name = 'hook'`) == 1
	})
	start := w.scalar(`SELECT last_id FROM audit_sink_cursors WHERE name = 'hook'`)
	if _, err := audit.Seed(context.Background(), w.pool, 1500, 11, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := expectedNotifications(t, w, start)
	if len(want) < 50 {
		t.Fatalf("the seeded trail calls for %d notifications: too few to test", len(want))
	}
	waitUntil(t, "the portal tried while the receiver was down", func() bool { return hook.Posts.Load() >= 2 })
	held, release := make(chan struct{}), make(chan struct{})
	hold := hook.Posts.Load() + 20
	hook.SetBefore(func(n int64) {
		if n == hold {
			close(held)
			<-release
		}
	})
	hook.Down.Store(false)
	<-held
	a.kill()
	close(release)
	w.start()
	waitUntil(t, "every notification arrived", func() bool { return len(hook.IDs()) >= len(want) })
	if got := hook.IDs(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the receiver acted on %d messages, want %d in trail order:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	if hook.Replays.Load() == 0 {
		t.Error("no message was delivered twice: the kill did not land mid-delivery")
	}
}

// expectedNotifications are the ids of the messages the trail after start
// calls for, in order.
func expectedNotifications(t *testing.T, w *world, start int64) []string {
	t.Helper()
	evs, err := db.New(w.pool).AuditEventsAfter(context.Background(), start, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range evs {
		r := audit.RecordOf(&evs[i])
		if _, ok := notify.Of(&r); ok {
			out = append(out, "keyport-"+strconv.FormatInt(r.ID, 10))
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
