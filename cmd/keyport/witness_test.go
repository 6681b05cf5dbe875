package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink/sinktest"
	"github.com/keyport/keyport/internal/pglocal"
	"github.com/keyport/keyport/internal/pgtest"
)

// keyportCode runs a one-shot subcommand of the built binary and returns
// its output and exit status (keyport fails the test on a non-zero one).
func (w *world) keyportCode(args ...string) (string, int) {
	w.t.Helper()
	cmd := exec.Command(keyportBinary(w.t), args...)
	cmd.Env = w.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		w.t.Fatalf("keyport %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

// withWitness streams the world's trail to a file sink and returns the
// file's witness URL.
func (w *world) withWitness() (path, witness string) {
	path = filepath.Join(w.t.TempDir(), "audit.jsonl")
	w.env = append(w.env, "KEYPORT_AUDIT_SINKS=file://"+path+"#witness")
	return path, "file://" + path
}

// seed appends n synthetic events and signs a checkpoint over them.
func (w *world) seed(n int) int64 {
	w.t.Helper()
	if _, err := audit.Seed(context.Background(), w.pool, n, uint64(w.scalar(`SELECT coalesce(max(id), 0) FROM audit_events`)+1), time.Now()); err != nil {
		w.t.Fatal(err)
	}
	w.keyport("audit", "checkpoint")
	return w.scalar(`SELECT max(id) FROM audit_events`)
}

// waitForWitness waits until the file sink holds every event up to head.
func (w *world) waitForWitness(path string, head int64) {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !sinktest.Holds(sinktest.ReadFile(w.t, path), head) {
		if time.Now().After(deadline) {
			w.t.Fatalf("the file sink does not hold event %d after a minute", head)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var missingLine = regexp.MustCompile(`(?m)^missing ids: ([0-9 ]+)$`)

// missingIDs returns the ids a verify --witness output names as missing.
func missingIDs(t *testing.T, out string) []int64 {
	t.Helper()
	m := missingLine.FindStringSubmatch(out)
	if m == nil {
		return nil
	}
	var ids []int64
	for _, f := range strings.Fields(m[1]) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n)
	}
	return ids
}

func idRange(from, to int64) []int64 {
	var ids []int64
	for id := from; id <= to; id++ {
		ids = append(ids, id)
	}
	return ids
}

// A superuser deletes the last 50 events and the last 2 checkpoints: the
// shorter chain verifies on its own, and only the file sink's copy shows
// what was taken, naming every id.
func TestWitnessNamesATailDeletedWithItsCheckpoints(t *testing.T) {
	w := newWorld(t)
	path, witness := w.withWitness()
	p := w.start()
	w.seed(250)
	w.seed(25)
	head := w.seed(25)
	if n := w.scalar(`SELECT count(*) FROM audit_checkpoints`); n != 3 {
		t.Fatalf("%d checkpoints, want 3", n)
	}
	w.waitForWitness(path, head)
	p.kill()
	cut := head - 50
	if _, err := w.pool.Exec(context.Background(), `
		ALTER TABLE audit_events DISABLE TRIGGER USER;
		ALTER TABLE audit_checkpoints DISABLE TRIGGER USER;
		DELETE FROM audit_checkpoints WHERE id IN (SELECT id FROM audit_checkpoints ORDER BY id DESC LIMIT 2);
		DELETE FROM audit_events WHERE id > `+strconv.FormatInt(cut, 10)+`;
		ALTER TABLE audit_events ENABLE TRIGGER USER;
		ALTER TABLE audit_checkpoints ENABLE TRIGGER USER;`); err != nil {
		t.Fatal(err)
	}
	if cp := w.scalar(`SELECT max(last_event_id) FROM audit_checkpoints`); cp > cut {
		t.Fatalf("a checkpoint still covers event %d after the cut at %d", cp, cut)
	}
	if out, code := w.keyportCode("audit", "verify"); code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("verify alone after the deletion: exit %d, want 0 (the blind spot):\n%s", code, out)
	}
	out, code := w.keyportCode("audit", "verify", "--witness", witness)
	if code != exitWitnessMissing {
		t.Fatalf("verify --witness: exit %d, want %d:\n%s", code, exitWitnessMissing, out)
	}
	t.Logf("keyport audit verify --witness %s → exit %d:\n%s", witness, code, out)
	if got, want := missingIDs(t, out), idRange(cut+1, head); !slices.Equal(got, want) {
		t.Fatalf("missing ids %v, want the 50 deleted, %d–%d:\n%s", got, cut+1, head, out)
	}
	if got := w.scalar(`SELECT count(*) FROM audit_witness_checks WHERE status = 'missing' AND missing = 50`); got != 1 {
		t.Errorf("%d stored witness checks found the 50 missing events, want 1", got)
	}
	if got := w.scalar(`SELECT count(*) FROM audit_events WHERE action = 'audit.verify' AND outcome = 'failure'
		AND details->>'step' = 'witness' AND error_message LIKE '%' || $1 || '%'`, strconv.FormatInt(cut+1, 10)+"–"+strconv.FormatInt(cut+50, 10)); got != 1 {
		t.Errorf("%d audit.verify failure events name ids %d–%d, want 1", got, cut+1, cut+50)
	}

	// An edited event breaks the chain on its own: that comes first (exit 1).
	if _, err := w.pool.Exec(context.Background(), `
		ALTER TABLE audit_events DISABLE TRIGGER USER;
		UPDATE audit_events SET actor_name = 'someone else' WHERE id = 100;
		ALTER TABLE audit_events ENABLE TRIGGER USER;`); err != nil {
		t.Fatal(err)
	}
	if out, code := w.keyportCode("audit", "verify", "--witness", witness); code != exitBroken || !strings.Contains(out, "BROKEN at event 100") {
		t.Fatalf("verify --witness on an edited chain: exit %d, want %d:\n%s", code, exitBroken, out)
	}
	if got := w.scalar(`SELECT count(*) FROM audit_witness_checks WHERE status = 'broken'`); got != 1 {
		t.Errorf("%d stored broken witness checks, want 1", got)
	}
}

// pgTool returns the path of a PostgreSQL client tool of the test server's
// version.
func pgTool(t *testing.T, name string) string {
	t.Helper()
	dir, err := pglocal.FindServer(pglocal.DefaultSearchPath())
	if err != nil {
		t.Fatal("no PostgreSQL binaries:", err)
	}
	// PATH may hold links to the server's binaries only (initdb, postgres):
	// the client tools sit beside the real ones.
	real, err := filepath.EvalSymlinks(filepath.Join(dir, "initdb"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(filepath.Dir(real), name)
}

// dump runs pg_dump -Fc as docs/auditing.md's backup step does.
func (w *world) dump(name string) string {
	w.t.Helper()
	file := filepath.Join(w.t.TempDir(), name+".dump")
	if out, err := exec.Command(pgTool(w.t, "pg_dump"), "--format=custom", "--file="+file, "--dbname="+w.db).CombinedOutput(); err != nil {
		w.t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	return file
}

// restored restores a dump into a fresh, empty database as docs/auditing.md's
// restore step does, and returns a world on it with the same keys and no
// sinks: a drill must not stream into the production witness.
func (w *world) restored(dump string) *world {
	w.t.Helper()
	dbURL := pgtest.NewEmptyDatabase(w.t)
	if out, err := exec.Command(pgTool(w.t, "pg_restore"), "--no-owner", "--single-transaction", "--exit-on-error",
		"--dbname="+dbURL, dump).CombinedOutput(); err != nil {
		w.t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(pool.Close)
	r := &world{t: w.t, db: dbURL, pool: pool, sim: w.sim, admin: w.admin}
	for _, kv := range w.env {
		switch {
		case strings.HasPrefix(kv, "KEYPORT_AUDIT_SINKS="):
		case strings.HasPrefix(kv, "KEYPORT_DATABASE_URL="):
			r.env = append(r.env, "KEYPORT_DATABASE_URL="+dbURL)
		default:
			r.env = append(r.env, kv)
		}
	}
	return r
}

// The restore drill: a dump restored into a fresh database runs the portal
// and verifies, with and without the witness; an older dump verifies on its
// own, and the witness names the tail it lacks.
func TestRestoreDrill(t *testing.T) {
	w := newWorld(t)
	path, witness := w.withWitness()
	p := w.start()
	older := w.seed(200)
	w.waitForWitness(path, older)
	olderDump := w.dump("older")
	w.seed(70)
	head := w.seed(30)
	w.waitForWitness(path, head)
	latestDump := w.dump("latest")
	p.kill()

	t.Run("the latest dump verifies, with its witness", func(t *testing.T) {
		r := w.restored(latestDump)
		r.t = t
		r.start()
		if out, code := r.keyportCode("audit", "verify"); code != 0 {
			t.Fatalf("verify: exit %d:\n%s", code, out)
		}
		if out, code := r.keyportCode("audit", "verify", "--witness", witness); code != 0 || !strings.Contains(out, "witness check: agrees") {
			t.Fatalf("verify --witness: exit %d, want 0:\n%s", code, out)
		}
		// This drill streams nowhere: what it appends (the check's own
		// event, ten more) leaves the witness behind.
		r.seed(10)
		if out, code := r.keyportCode("audit", "verify", "--witness", witness); code != exitWitnessBehind || !strings.Contains(out, "behind the database by 11 events") {
			t.Fatalf("verify --witness with 11 events unstreamed: exit %d, want %d:\n%s", code, exitWitnessBehind, out)
		}
		if out, code := r.keyportCode("audit", "verify", "--witness", witness, "--max-lag", "20"); code != 0 {
			t.Fatalf("verify --witness --max-lag 20: exit %d, want 0:\n%s", code, out)
		}
		if out, code := r.keyportCode("audit", "verify", "--witness", "file://"+filepath.Join(t.TempDir(), "none.jsonl")); code != exitWitnessUnread {
			t.Fatalf("verify --witness on no file: exit %d, want %d:\n%s", code, exitWitnessUnread, out)
		}
	})
	t.Run("an older dump verifies alone; the witness names the lost tail", func(t *testing.T) {
		r := w.restored(olderDump)
		r.t = t
		portal := r.start()
		if out, code := r.keyportCode("audit", "verify"); code != 0 {
			t.Fatalf("verify: exit %d:\n%s", code, out)
		}
		out, code := r.keyportCode("audit", "verify", "--witness", witness)
		if code != exitWitnessMissing {
			t.Fatalf("verify --witness: exit %d, want %d:\n%s", code, exitWitnessMissing, out)
		}
		if got, want := missingIDs(t, out), idRange(older+1, head); !slices.Equal(got, want) {
			t.Fatalf("missing ids %v, want %d–%d:\n%s", got, older+1, head, out)
		}
		// The portal's Integrity page shows that check.
		r.addReviewer("rita", "correct horse battery staple")
		b := r.newAdmin()
		if a := b.do("POST", portal.url, "/reviewer/login", url.Values{"username": {"rita"}, "password": {"correct horse battery staple"}}); a.status != http.StatusSeeOther {
			t.Fatalf("reviewer sign-in: %d %.300s", a.status, a.body)
		}
		page := b.do("GET", portal.url, "/audit/integrity", nil)
		want := fmt.Sprintf("ids %d–%d", older+1, head)
		if page.status != http.StatusOK || !strings.Contains(page.body, `data-status="missing"`) || !strings.Contains(page.body, want) {
			t.Fatalf("the Integrity page does not show the failed witness check (%q): %d %s", want, page.status, page.body)
		}
	})
}
