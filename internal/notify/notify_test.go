package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/notify"
	"github.com/keyport/keyport/internal/notify/notifytest"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const hookSecret = "whsec_test-0123456789abcdef"

// world is a migrated database, a trail writer, and a streamer delivering
// to targets (started by run).
type world struct {
	t    *testing.T
	pool *pgxpool.Pool
	w    *audit.Writer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	keys, err := audit.DeriveKeys(keyring.New(secret.New(strings.Repeat("k", 32))))
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, pool: pool, w: audit.NewWriter(pool, keys, slog.New(slog.DiscardHandler))}
}

// run delivers list's targets until the test ends.
func (w *world) run(list string, o notify.Options) {
	w.t.Helper()
	targets, err := notify.Parse(list, o)
	if err != nil {
		w.t.Fatal(err)
	}
	s := auditsink.New(w.pool, targets, slog.New(slog.DiscardHandler), auditsink.Options{Poll: 10 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, LockRetry: 20 * time.Millisecond})
	if err := s.Prepare(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	w.t.Cleanup(func() { cancel(); <-done })
}

// created records a key created through Keyport, with its fingerprint and
// last four characters (which no message may carry).
func (w *world) created(keyID, label string) {
	w.t.Helper()
	ev := audit.Event{Actor: audit.Actor{Kind: kp.ActorAdmin, UserID: "u-1", Name: "Ada Admin"},
		Scope:  audit.Scope{TenantID: "t-1", TenantName: "Acme", Region: "na1"},
		Action: kp.KeyCreate, TargetKeyID: keyID}
	if err := w.w.Record(context.Background(), ev, audit.Result{Outcome: kp.OutcomeSuccess,
		Details: &audit.Details{Label: label, OwnerUserID: "u-1", SecretFingerprint: "abcdef0123456789", SecretLast4: "WXYZ"}}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) listed() {
	w.t.Helper()
	if err := w.w.Record(context.Background(), audit.Event{Actor: audit.Actor{Kind: kp.ActorAdmin, UserID: "u-1"}, Action: kp.KeyList},
		audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
		w.t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const keyID = "AKIAKEYPORTTEST0001XYZW"

// A signed webhook: the receiver checks the signature and the timestamp
// window, and refuses a replay of a message it accepted, a tampered body and
// a stale timestamp. Slack and Teams receivers get their services' shapes.
// Only the chosen events are sent, and no message holds the secret's
// fingerprint or last four characters.
func TestWebhookSlackAndTeamsMessages(t *testing.T) {
	w := newWorld(t)
	hook, slack, teams := notifytest.New(t, hookSecret), notifytest.New(t, ""), notifytest.New(t, "")
	w.listed() // before the targets: a new target hears of what happens next only
	w.created("AKIABEFORETHETARGET0001", "old news")
	roots := hook.Roots()
	roots.AddCert(slack.Srv.Certificate())
	roots.AddCert(teams.Srv.Certificate())
	w.run("webhook+"+hook.Srv.URL+"/in?token=x#hook,"+strings.Replace(slack.Srv.URL, "https", "slack+https", 1)+"/s,"+
		strings.Replace(teams.Srv.URL, "https", "teams+https", 1)+"/t",
		notify.Options{Secret: hookSecret, PublicURL: "https://keyport.example.com", Roots: roots})
	w.listed()
	w.created(keyID, "payroll export")
	waitFor(t, "every receiver got the create", func() bool {
		return len(hook.Bodies()) == 1 && len(slack.Bodies()) == 1 && len(teams.Bodies()) == 1
	})

	var n map[string]any
	body := hook.Bodies()[0]
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"event": "key.created", "label": "payroll export", "tenant_name": "Acme", "area": "na1",
		"actor": "Ada Admin", "key_id_short": "AKIAKEYP…XYZW", "link": "https://keyport.example.com/audit/keys/" + keyID} {
		if n[k] != want {
			t.Errorf("webhook %s = %v, want %v", k, n[k], want)
		}
	}
	if id, _ := n["id"].(string); !strings.HasPrefix(id, "keyport-") {
		t.Errorf("webhook id %q", n["id"])
	}
	for _, b := range [][]byte{body, slack.Bodies()[0], teams.Bodies()[0]} {
		for _, leak := range []string{"abcdef0123456789", "WXYZ\"", keyID + "\""} {
			if bytes.Contains(b, []byte(leak)) && !(leak == keyID+"\"" && bytes.Contains(b, []byte("/audit/keys/"+keyID+"\""))) {
				t.Errorf("a message holds %q: %s", leak, b)
			}
		}
	}

	post := func(body []byte, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, hook.Srv.URL+"/in", bytes.NewReader(body))
		req.Header.Set("Keyport-Signature", sig)
		res, err := hook.Srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if got := post(body, hook.Last); got != http.StatusOK || hook.Replays.Load() != 1 || len(hook.IDs()) != 1 {
		t.Errorf("a replay answered %d, counted %d, and %d messages were acted on; want it ignored", got, hook.Replays.Load(), len(hook.IDs()))
	}
	tampered := bytes.Replace(body, []byte("payroll"), []byte("PAYROLL"), 1)
	if got := post(tampered, hook.Last); got != http.StatusUnauthorized {
		t.Errorf("a tampered body answered %d, want 401", got)
	}
	if got := post(body, notify.Sign(hookSecret, time.Now().Add(-10*time.Minute), body)); got != http.StatusUnauthorized {
		t.Errorf("a stale timestamp answered %d, want 401", got)
	}
	if got := post(body, notify.Sign("another key", time.Now(), body)); got != http.StatusUnauthorized {
		t.Errorf("another key's signature answered %d, want 401", got)
	}

	checkSlack(t, slack.Bodies()[0])
	checkTeams(t, teams.Bodies()[0])
}

// A receiver down for a while gets every notification once it is back, in
// order, none lost (and, with no crash, none twice).
func TestReceiverDownGetsEverythingInOrder(t *testing.T) {
	w := newWorld(t)
	hook := notifytest.New(t, hookSecret)
	hook.Down.Store(true)
	w.run("webhook+"+hook.Srv.URL+"/in", notify.Options{Secret: hookSecret, Roots: hook.Roots()})
	const n = 40
	for i := range n {
		w.created(keyID+string(rune('A'+i%26))+string(rune('A'+i/26)), "")
		w.listed()
	}
	waitFor(t, "the sender tried while the receiver was down", func() bool { return hook.Posts.Load() >= 3 })
	hook.Down.Store(false)
	waitFor(t, "every notification arrived", func() bool { return len(hook.IDs()) >= n })
	ids := hook.IDs()
	if len(ids) != n || hook.Replays.Load() != 0 {
		t.Fatalf("got %d messages (%d repeats), want %d once each", len(ids), hook.Replays.Load(), n)
	}
	for i := 1; i < len(ids); i++ {
		if num(ids[i]) <= num(ids[i-1]) {
			t.Fatalf("out of order: %s after %s", ids[i], ids[i-1])
		}
	}
}

func num(id string) int64 {
	var n int64
	for _, r := range strings.TrimPrefix(id, "keyport-") {
		n = n*10 + int64(r-'0')
	}
	return n
}

func TestParseRefusesMalformedTargets(t *testing.T) {
	for in, want := range map[string]string{
		"webhook+https://h.example/x":                             "KEYPORT_NOTIFY_SECRET_FILE",
		"webhook+http://h.example/x":                              "only over TLS",
		"slack+https://":                                          "no host",
		"pager://x":                                               "unknown kind",
		"smtp://mail.example:25?to=a@b.example":                   "from=",
		"smtp://mail.example:25?from=k@b.example":                 "to=",
		"smtp://mail.example?from=k@b.example&to=a@b.c":           "host:port",
		"smtp://u:pw@mail.example:25?from=k@x.y&to=a@b.c":         "KEYPORT_SMTP_PASSWORD_FILE",
		"smtp://u@mail.example:25?from=k@x.y&to=a@b.c":            "KEYPORT_SMTP_PASSWORD_FILE",
		"slack+https://h.example/a#x,teams+https://h.example/b#x": "two targets",
	} {
		_, err := notify.Parse(in, notify.Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("Parse(%q) echoes the password: %v", in, err)
		}
	}
	ts, err := notify.Parse("slack+https://hooks.slack.example/services/T0/B0/s3cret?x=1, smtps://u@mail.example:465?from=k@x.example&to=a@b.example&to=c@d.example#mail",
		notify.Options{Password: "pw"})
	if err != nil || len(ts) != 2 || ts[1].Name != "mail" || strings.Contains(ts[0].Display, "x=1") || strings.Contains(ts[1].Display, "u@") {
		t.Fatalf("Parse = %+v, %v", ts, err)
	}
}

// checkSlack checks a Slack incoming-webhook message: text and blocks.
func checkSlack(t *testing.T, body []byte) {
	t.Helper()
	var s struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(body, &s); err != nil || !strings.Contains(s.Text, "A key was created") || len(s.Blocks) != 2 ||
		s.Blocks[0].Type != "header" || s.Blocks[1].Type != "section" {
		t.Errorf("Slack got %s (%v)", body, err)
	}
}

// checkTeams checks a Teams incoming-webhook MessageCard.
func checkTeams(t *testing.T, body []byte) {
	t.Helper()
	var c struct {
		Type     string `json:"@type"`
		Context  string `json:"@context"`
		Title    string `json:"title"`
		Sections []struct {
			Facts []struct{ Name, Value string } `json:"facts"`
		} `json:"sections"`
		Actions []struct {
			Type string `json:"@type"`
		} `json:"potentialAction"`
	}
	if err := json.Unmarshal(body, &c); err != nil || c.Type != "MessageCard" || c.Context != "https://schema.org/extensions" ||
		!strings.Contains(c.Title, "A key was created") || len(c.Sections) != 1 || len(c.Sections[0].Facts) == 0 || len(c.Actions) != 1 {
		t.Errorf("Teams got %s (%v)", body, err)
	}
}

// Of picks the events people asked to hear of, and only those.
func TestOfChoosesTheEvents(t *testing.T) {
	for _, c := range []struct {
		action, outcome, details, want string
	}{
		{"key.create", "success", `{"label":"x"}`, notify.KeyCreated},
		{"key.create", "intent", `{}`, ""},
		{"key.create", "denied", `{}`, ""},
		{"key.deactivate", "success", `{}`, notify.KeyDeactivated},
		{"key.delete", "success", `{}`, notify.KeyDeleted},
		{"key.delete", "failure", `{}`, ""},
		{"key.reconcile", "success", `{"result":"created, secret lost"}`, notify.KeySecretLost},
		{"key.reconcile", "success", `{"result":"not created"}`, ""},
		{"key.seen_outside", "success", `{}`, notify.KeyOutsideSeen},
		{"policy.violation", "success", `{"policy":{"rule":"max_age","limit_days":"90","as_of":"2026-12-08T00:00:00Z"}}`, notify.PolicyViolation},
		{"policy.resolved", "success", `{}`, ""},
		{"audit.verify", "failure", `{"result":"broken"}`, notify.TrailVerifyFailed},
		{"audit.verify", "success", `{"result":"verified"}`, ""},
		{"audit.sink_failing", "failure", `{"result":"siem"}`, notify.SinkFailing},
		{"key.list", "success", `{}`, ""},
	} {
		n, ok := notify.Of(&audit.ExportRecord{ID: 7, Action: c.action, Outcome: c.outcome, Details: c.details})
		got := ""
		if ok {
			got = n.Event
		}
		if got != c.want {
			t.Errorf("%s/%s %s: notified as %q, want %q", c.action, c.outcome, c.details, got, c.want)
		}
		if got == notify.PolicyViolation && (n.Rule != "max_age" || n.LimitDays != 90 || n.AsOf == "") {
			t.Errorf("violation message %+v", n)
		}
	}
}
