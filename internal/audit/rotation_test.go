package audit_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
)

// A checkpoint whose key is not in the ring is named, not called forged;
// one relabelled with a key of the ring fails that key's check.
func TestVerifyWithAnotherKeyNamesTheCheckpoint(t *testing.T) {
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	appendN(t, w, 1)
	c, err := w.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	other := testKeys(t)
	rep := mustVerify(t, pool, other)
	if !rep.OK() || len(rep.Unchecked) != 1 || rep.Unchecked[0].CheckpointID != c.ID || rep.Unchecked[0].KeyID != keys.NewestID() {
		t.Fatalf("report with another key = %v, unchecked %v; want verified, checkpoint %d named with key %s", rep, rep.Unchecked, c.ID, keys.NewestID())
	}
	superuserExec(t, pool, fmt.Sprintf(`UPDATE audit_checkpoints SET key_id = '%s'`, other.NewestID()))
	if rep := mustVerify(t, pool, other); rep.OK() || rep.Problem.Kind != "forged-checkpoint" {
		t.Fatalf("a checkpoint relabelled with the ring's key = %v, want forged-checkpoint", rep)
	}
}

// Old checkpoints verify with the old key second in the ring; a checkpoint
// from before key ids (key_id ”) is checked with every key, and
// StampCheckpointKeys names its key, so once that key is retired it is
// named, not called forged; the append-only trigger allows nothing else.
func TestCheckpointsAcrossARotation(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	oldRing, newRing := randomKey(t), randomKey(t)
	oldKeys := deriveKeys(t, keyring.New(oldRing))
	both := deriveKeys(t, keyring.New(newRing, oldRing))
	newOnly := deriveKeys(t, keyring.New(newRing))
	w := audit.NewWriter(pool, oldKeys, quiet())
	appendN(t, w, 1)
	legacy, err := w.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	superuserExec(t, pool, fmt.Sprintf(`UPDATE audit_checkpoints SET key_id = '' WHERE id = %d`, legacy.ID)) // as migration 014 left it
	w2 := audit.NewWriter(pool, both, quiet())
	appendN(t, w2, 1)
	fresh, err := w2.Checkpoint(ctx)
	if err != nil || fresh.KeyID != both.NewestID() {
		t.Fatalf("checkpoint under the two-key ring = %+v, %v; want key %s", fresh, err, both.NewestID())
	}
	rep := mustVerify(t, pool, both)
	if !rep.OK() || rep.ByKey[oldKeys.NewestID()] != 1 || rep.ByKey[both.NewestID()] != 1 || len(rep.Unchecked) != 0 {
		t.Fatalf("two-key ring: %v, by key %v, unchecked %v", rep, rep.ByKey, rep.Unchecked)
	}
	if rep := mustVerify(t, pool, newOnly); rep.OK() || rep.Problem.Kind != "forged-checkpoint" {
		t.Fatalf("an unstamped checkpoint without its key = %v, want forged-checkpoint", rep)
	}
	if n, err := audit.StampCheckpointKeys(ctx, pool, both); err != nil || n != 1 {
		t.Fatalf("StampCheckpointKeys = %d, %v; want 1", n, err)
	}
	rep = mustVerify(t, pool, newOnly)
	if !rep.OK() || len(rep.Unchecked) != 1 || rep.Unchecked[0].KeyID != oldKeys.NewestID() {
		t.Fatalf("after stamping, without the old key: %v, unchecked %v; want it named", rep, rep.Unchecked)
	}
	for _, sql := range []string{
		fmt.Sprintf(`UPDATE audit_checkpoints SET key_id = 'aaaaaaaa' WHERE id = %d`, legacy.ID),
		fmt.Sprintf(`UPDATE audit_checkpoints SET event_count = 9 WHERE id = %d`, fresh.ID),
		`DELETE FROM audit_checkpoints`,
	} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s: accepted by the append-only table", sql)
		}
	}
}

func randomKey(t testing.TB) secret.Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secret.New(string(b))
}

func deriveKeys(t testing.TB, r keyring.Ring) audit.Keys {
	t.Helper()
	k, err := audit.DeriveKeys(r)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A fingerprint made under the old audit key still matches with the old
// key second in the ring, and no longer once it is retired.
func TestFingerprintsAcrossARotation(t *testing.T) {
	oldKey, newKey := randomKey(t), randomKey(t)
	s := secret.New("access-key-secret-CANARY")
	fp := deriveKeys(t, keyring.New(oldKey)).Fingerprint(s)
	both := deriveKeys(t, keyring.New(newKey, oldKey))
	if !both.MatchFingerprint(fp, s) || both.MatchFingerprint(fp, secret.New("another")) {
		t.Fatal("the two-key ring misjudges an old fingerprint")
	}
	if both.Fingerprint(s) == fp || both.FingerprintKeyID() != keyring.ID(newKey) || len(both.Fingerprints(s)) != 2 {
		t.Fatal("new fingerprints are not made with the newest key")
	}
	if deriveKeys(t, keyring.New(newKey)).MatchFingerprint(fp, s) {
		t.Fatal("a retired key's fingerprint still matches")
	}
}
