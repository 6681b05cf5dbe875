package audit_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func testKeys(t testing.TB) audit.Keys {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	k, err := audit.DeriveKeys(keyring.New(secret.New(string(b))))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func adminEvent(action kp.Action) audit.Event {
	return audit.Event{
		Actor:  audit.Actor{Kind: kp.ActorAdmin, UserID: "11eb660f-aaaa-bbbb-cccc-000000000001", Name: "Ada Admin"},
		Scope:  audit.Scope{TenantID: "tenant-a", TenantName: "Tenant A", Region: "na1", ClientIP: "192.0.2.10", UserAgent: "test-agent", RequestID: "req-1"},
		Action: action,
	}
}

func mustVerify(t *testing.T, pool *pgxpool.Pool, keys audit.Keys) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), pool, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// superuserExec runs SQL as the test superuser with triggers disabled for the
// session, which is how an attacker with database access would tamper.
func superuserExec(t *testing.T, pool *pgxpool.Pool, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "SET session_replication_role = origin")
	for _, s := range sqls {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func appendN(t *testing.T, w *audit.Writer, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := w.Do(context.Background(), adminEvent(kp.KeyCreate), func(context.Context) (audit.Result, error) {
			return audit.Result{Outcome: kp.OutcomeSuccess, TargetKeyID: fmt.Sprintf("KEY%03d", i)}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIntentOutcomeChainVerifies(t *testing.T) {
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	ctx := context.Background()
	id, err := w.Intent(ctx, adminEvent(kp.KeyDeactivate))
	if err != nil {
		t.Fatal(err)
	}
	w.Outcome(ctx, id, adminEvent(kp.KeyDeactivate), audit.Result{Outcome: kp.OutcomeFailure, UpstreamStatus: 403, Message: "Forbidden: missing Access Key"})
	var gotIntent *int64
	var outcome string
	var status *int32
	if err := pool.QueryRow(ctx, `SELECT intent_id, outcome, upstream_status FROM audit_events WHERE id = 2`).Scan(&gotIntent, &outcome, &status); err != nil {
		t.Fatal(err)
	}
	if gotIntent == nil || *gotIntent != int64(id) || outcome != "failure" || status == nil || *status != 403 {
		t.Fatalf("outcome row: intent %v outcome %q status %v", gotIntent, outcome, status)
	}
	rep := mustVerify(t, pool, keys)
	if !rep.OK() || rep.Events != 2 {
		t.Fatalf("report = %v", rep)
	}
	if !strings.HasPrefix(rep.String(), "verified 2 events, head ") {
		t.Errorf("report text = %q", rep.String())
	}
}

// The outcome write must survive a cancelled request context: the user
// closing the tab after the upstream call must not lose the record.
func TestOutcomeSurvivesCancelledContext(t *testing.T) {
	pool := pgtest.NewPool(t)
	w := audit.NewWriter(pool, testKeys(t), quiet())
	ctx, cancel := context.WithCancel(context.Background())
	id, err := w.Intent(ctx, adminEvent(kp.KeyCreate))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	w.Outcome(ctx, id, adminEvent(kp.KeyCreate), audit.Result{Outcome: kp.OutcomeSuccess})
	if n := w.OutcomeFailures(); n != 0 {
		t.Fatalf("outcome with a cancelled context was lost (%d failures)", n)
	}
}

func TestAuditTablesRejectUpdateDeleteTruncate(t *testing.T) {
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	appendN(t, w, 2)
	if _, err := w.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var dbname string
	if err := pool.QueryRow(ctx, `SELECT current_database()`).Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	// The application role gets only INSERT and SELECT, as docs/security.md
	// recommends for production; the owner (here the superuser) keeps all
	// privileges. Both must be refused.
	for _, sql := range []string{
		`CREATE ROLE keyport_app_` + dbname + ` LOGIN PASSWORD 'app-pw'`,
		`GRANT SELECT, INSERT ON audit_events, audit_checkpoints TO keyport_app_` + dbname,
		`GRANT EXECUTE ON FUNCTION audit_append TO keyport_app_` + dbname,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP OWNED BY keyport_app_`+dbname)
		_, _ = pool.Exec(context.Background(), `DROP ROLE keyport_app_`+dbname)
	})
	owner := pool
	appCfg := pool.Config().ConnConfig.Copy()
	appCfg.User, appCfg.Password = "keyport_app_"+dbname, "app-pw"
	app, err := pgx.ConnectConfig(ctx, appCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	for _, tc := range []struct {
		name string
		exec func(string) error
	}{
		{"owner", func(s string) error { _, err := owner.Exec(ctx, s); return err }},
		{"application role", func(s string) error { _, err := app.Exec(ctx, s); return err }},
	} {
		for _, sql := range []string{
			`UPDATE audit_events SET actor_name = 'Mallory' WHERE id = 1`,
			`DELETE FROM audit_events WHERE id = 1`,
			`TRUNCATE audit_events CASCADE`,
			`UPDATE audit_checkpoints SET event_count = 0`,
			`DELETE FROM audit_checkpoints`,
			`TRUNCATE audit_checkpoints`,
		} {
			t.Run(tc.name+": "+sql, func(t *testing.T) {
				err := tc.exec(sql)
				if err == nil {
					t.Fatalf("%s succeeded", sql)
				}
				if msg := err.Error(); !strings.Contains(msg, "append-only") && !strings.Contains(msg, "permission denied") {
					t.Fatalf("%s failed for another reason: %v", sql, err)
				}
			})
		}
	}
	if rep := mustVerify(t, pool, keys); !rep.OK() || rep.Events != 4 {
		t.Fatalf("after refused tampering: %v", rep)
	}
	// The application role can still append.
	if _, err := app.Exec(ctx, `SELECT * FROM audit_append('system','','','','','','','','','audit.checkpoint','','success',NULL,'','',NULL,'{}')`); err != nil {
		t.Fatalf("application role cannot append: %v", err)
	}
}

func TestConcurrentAppendsFromSeveralPoolsFormOneLinearChain(t *testing.T) {
	url := pgtest.NewDatabase(t)
	keys := testKeys(t)
	ctx := context.Background()
	const pools, perPool = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, pools*perPool)
	for p := 0; p < pools; p++ {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		w := audit.NewWriter(pool, keys, quiet())
		for i := 0; i < perPool; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := w.Intent(ctx, adminEvent(kp.KeyList))
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	vp, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer vp.Close()
	rep := mustVerify(t, vp, keys)
	if !rep.OK() || rep.Events != pools*perPool {
		t.Fatalf("report = %v, want %d linear events", rep, pools*perPool)
	}
	var distinctPrev int
	if err := vp.QueryRow(ctx, `SELECT count(DISTINCT prev_hash) FROM audit_events`).Scan(&distinctPrev); err != nil {
		t.Fatal(err)
	}
	if distinctPrev != pools*perPool {
		t.Fatalf("%d distinct prev hashes for %d events: the chain forked", distinctPrev, pools*perPool)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkpoint bool
		tamper     []string
		wantID     int64
		wantKind   string
	}{
		{"one changed column", false, []string{`UPDATE audit_events SET actor_name = 'Mallory' WHERE id = 4`}, 4, "changed"},
		{"changed details", false, []string{`UPDATE audit_events SET details = '{"label":"x"}' WHERE id = 3`}, 3, "changed"},
		{"a deleted middle row", false, []string{`DELETE FROM audit_events WHERE id = 5`}, 5, "missing"},
		{"two swapped rows", false, []string{
			`UPDATE audit_events SET id = -5 WHERE id = 5`,
			`UPDATE audit_events SET id = 5 WHERE id = 6`,
			`UPDATE audit_events SET id = 6 WHERE id = -5`,
		}, 5, "reordered"},
		{"a changed row with its hash recomputed", false, []string{
			`UPDATE audit_events SET actor_name = 'Mallory' WHERE id = 4`,
			`UPDATE audit_events SET hash = sha256(prev_hash || audit_canonical_v1(id, occurred_at, actor_kind, actor_user_id, actor_name, tenant_id, tenant_name, region, session_hash, client_ip, user_agent, action, target_key_id, outcome, upstream_status, error_message, request_id, intent_id, details)) WHERE id = 4`,
		}, 4, "changed"},
		{"a truncated tail after a checkpoint", true, []string{`DELETE FROM audit_events WHERE id > 6`}, 8, "truncated"},
		{"a forged checkpoint", true, []string{
			`INSERT INTO audit_checkpoints (created_at, last_event_id, last_hash, event_count, mac) VALUES (now(), 3, (SELECT hash FROM audit_events WHERE id = 3), 3, sha256('forged'::bytea))`,
		}, 3, "forged-checkpoint"},
		{"a checkpoint edited to match a shortened chain", true, []string{
			`DELETE FROM audit_events WHERE id > 6`,
			`UPDATE audit_checkpoints SET last_event_id = 6, event_count = 6, last_hash = (SELECT hash FROM audit_events WHERE id = 6)`,
		}, 6, "forged-checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := pgtest.NewPool(t)
			keys := testKeys(t)
			w := audit.NewWriter(pool, keys, quiet())
			appendN(t, w, 4) // 8 events
			if tc.checkpoint {
				if _, err := w.Checkpoint(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if rep := mustVerify(t, pool, keys); !rep.OK() {
				t.Fatalf("untampered trail: %v", rep)
			}
			superuserExec(t, pool, tc.tamper...)
			rep := mustVerify(t, pool, keys)
			if rep.OK() {
				t.Fatal("tampering not detected")
			}
			if rep.Problem.EventID != tc.wantID || rep.Problem.Kind != tc.wantKind {
				t.Fatalf("problem = %v, want event %d %s", rep.Problem, tc.wantID, tc.wantKind)
			}
		})
	}
}

func TestCheckpointSkipsWhenNothingNew(t *testing.T) {
	pool := pgtest.NewPool(t)
	w := audit.NewWriter(pool, testKeys(t), quiet())
	ctx := context.Background()
	if c, err := w.Checkpoint(ctx); err != nil || c != nil {
		t.Fatalf("checkpoint of an empty chain = %v, %v", c, err)
	}
	appendN(t, w, 1)
	c1, err := w.Checkpoint(ctx)
	if err != nil || c1 == nil || c1.LastEventID != 2 || c1.EventCount != 2 {
		t.Fatalf("first checkpoint = %+v, %v", c1, err)
	}
	if c2, err := w.Checkpoint(ctx); err != nil || c2 != nil {
		t.Fatalf("second checkpoint without new events = %+v, %v", c2, err)
	}
}

// Fail-closed: when the intent cannot be written, the action does not run.
func TestIntentFailureBlocksTheAction(t *testing.T) {
	pool := pgtest.NewPool(t)
	w := audit.NewWriter(pool, testKeys(t), quiet())
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit disk full'; END $$;
		CREATE TRIGGER fail_insert BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION fail_insert();`); err != nil {
		t.Fatal(err)
	}
	ran := false
	err := w.Do(ctx, adminEvent(kp.KeyDelete), func(context.Context) (audit.Result, error) {
		ran = true
		return audit.Result{}, nil
	})
	if ran {
		t.Fatal("the action ran although its intent was not recorded")
	}
	if kp.KindOf(err) != kp.Unavailable || !strings.Contains(kp.MessageOf(err), "did not perform it") {
		t.Fatalf("err = %v (kind %v), want Unavailable with an honest message", err, kp.KindOf(err))
	}
}

// Outcome loss is logged loudly and counted; the intent stays open.
func TestOutcomeFailureIsCountedAndIntentStaysOpen(t *testing.T) {
	pool := pgtest.NewPool(t)
	w := audit.NewWriter(pool, testKeys(t), quiet())
	ctx := context.Background()
	id, err := w.Intent(ctx, adminEvent(kp.KeyCreate))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit disk full'; END $$;
		CREATE TRIGGER fail_insert BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION fail_insert();`); err != nil {
		t.Fatal(err)
	}
	w.Outcome(ctx, id, adminEvent(kp.KeyCreate), audit.Result{Outcome: kp.OutcomeSuccess})
	w.Note(ctx, adminEvent(kp.KeyCreate), audit.Result{Outcome: kp.OutcomeDenied})
	if w.NoteFailures() != 1 {
		t.Fatalf("NoteFailures = %d, want 1", w.NoteFailures())
	}
	if w.OutcomeFailures() != 1 {
		t.Fatalf("OutcomeFailures = %d, want 1", w.OutcomeFailures())
	}
	if _, err := pool.Exec(ctx, `DROP TRIGGER fail_insert ON audit_events`); err != nil {
		t.Fatal(err)
	}
	open, err := openIntents(ctx, pool)
	if err != nil || len(open) != 1 || open[0] != int64(id) {
		t.Fatalf("open intents = %v, %v; want [%d]", open, err, id)
	}
}

func openIntents(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	rows, err := pool.Query(ctx, `SELECT id FROM audit_events i WHERE outcome = 'intent' AND NOT EXISTS (SELECT 1 FROM audit_events o WHERE o.intent_id = i.id)`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// Canary: credential values handed to the writer in every input it takes
// appear nowhere in the stored trail.
func TestCanariesNeverReachTheTable(t *testing.T) {
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	ctx := context.Background()
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyOkNBTkFSWUpXVCJ9.Q0FOQVJZU0lHTkFUVVJFQ0FOQVJZ"
	akSecret := "CANARYSECRETAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA===="
	bearer := "Bearer CANARYBEARERtoken-value-123"
	session := "CANARY-SESSION-ID-0123456789"
	opaque := base64.StdEncoding.EncodeToString([]byte("CANARY-opaque-refresh-token-value-xyz"))
	all := " " + jwt + " " + akSecret + " " + bearer + " " + opaque
	e := audit.Event{
		Actor: audit.Actor{Kind: kp.ActorAdmin, UserID: "u" + all, Name: "n" + all},
		Scope: audit.Scope{TenantID: "t" + all, TenantName: "tn" + all, Region: "na1", Session: secret.New(session),
			ClientIP: jwt, UserAgent: "ua" + all, RequestID: "r" + all},
		Action: kp.KeyCreate,
		Details: audit.Details{Label: "l" + all, OwnerUserID: "o" + all, SecretFingerprint: keys.Fingerprint(secret.New(akSecret)),
			SecretLast4: akSecret, Filters: map[string]string{"q" + all: "v" + all}, Format: all, Result: "res" + all,
			Warning: "w" + all, CorrelationID: "c" + all, Step: "s" + all, KeyIDs: []string{"KEYID1"}},
	}
	if err := w.Do(ctx, e, func(context.Context) (audit.Result, error) {
		return audit.Result{Outcome: kp.OutcomeFailure, UpstreamStatus: 401, Message: "upstream said: invalid token " + all,
			Details: &audit.Details{Warning: all}}, kp.Errorf(kp.Unauthorized, "rejected %s", all)
	}); err == nil {
		t.Fatal("expected the action's error back")
	}
	if err := w.Viewed(ctx, audit.Actor{Kind: kp.ActorReviewer, UserID: "rev"}, audit.Scope{}, kp.AuditView, map[string]string{"q": all}, ""); err != nil {
		t.Fatal(err)
	}
	var dump string
	if err := pool.QueryRow(ctx, `SELECT string_agg(t::text, E'\n') FROM audit_events t`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, canary := range []string{"CANARYJWT", "eyJ0eXAi", "CANARYSECRET", "CANARYBEARER", "CANARY-SESSION", "Q0FOQVJZ", "CANARY-opaque", base64.StdEncoding.EncodeToString([]byte("CANARY"))[:6]} {
		if strings.Contains(dump, canary) {
			t.Errorf("canary %q stored in audit_events:\n%s", canary, dump)
		}
	}
	if !strings.Contains(dump, "[redacted]") || !strings.Contains(dump, "KEYID1") {
		t.Errorf("expected redaction markers and the key id in the dump:\n%s", dump)
	}
	if rep := mustVerify(t, pool, keys); !rep.OK() {
		t.Fatalf("chain with scrubbed values does not verify: %v", rep)
	}
}

func TestFingerprintIsKeyedAndStable(t *testing.T) {
	k1, k2 := testKeys(t), testKeys(t)
	s := secret.New("SOMESECRET")
	if a, b := k1.Fingerprint(s), k1.Fingerprint(secret.New("SOMESECRET")); a != b {
		t.Fatal("fingerprint not stable")
	}
	if k1.Fingerprint(s) == k2.Fingerprint(s) {
		t.Fatal("fingerprint does not depend on the key")
	}
	if len(k1.Fingerprint(s)) != 64 {
		t.Fatalf("fingerprint length %d", len(k1.Fingerprint(s)))
	}
}

func TestCloseOpenIntents(t *testing.T) {
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	ctx := context.Background()
	open, err := w.Intent(ctx, adminEvent(kp.KeyDeactivate))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 1) // a closed intent with its outcome
	n, err := w.CloseOpenIntents(ctx, time.Now().Add(time.Second), nil)
	if err != nil || n != 1 {
		t.Fatalf("closed %d, %v; want 1", n, err)
	}
	var outcome string
	if err := pool.QueryRow(ctx, `SELECT outcome FROM audit_events WHERE intent_id = $1`, int64(open)).Scan(&outcome); err != nil || outcome != "unknown" {
		t.Fatalf("outcome of the lost intent = %q, %v", outcome, err)
	}
	if n, _ := w.CloseOpenIntents(ctx, time.Now().Add(time.Second), nil); n != 0 {
		t.Fatalf("second run closed %d", n)
	}
	if rep := mustVerify(t, pool, keys); !rep.OK() {
		t.Fatal(rep)
	}
}
