package rekey_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/rekey"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/seal"
	"github.com/keyport/keyport/internal/secret"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func randomKey() secret.Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secret.New(string(b))
}

func sealer(t *testing.T, r keyring.Ring, purpose string) *seal.Sealer {
	t.Helper()
	s, err := seal.New(r, purpose)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// legacySeal is a value as Keyport sealed it before key rings (version 1,
// no key id).
func legacySeal(t *testing.T, key secret.Secret, purpose string, plain, aad []byte) []byte {
	t.Helper()
	k, _ := hkdf.Key(sha256.New, []byte(key.Reveal()), nil, "keyport seal "+purpose+" v1", 32)
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(append([]byte{1}, nonce...), nonce, plain, aad)
}

type store struct {
	t    *testing.T
	pool *pgxpool.Pool
	hash []byte
}

// seed stores one admin session (its data sealed by data), n connections
// whose tokens tokenOf seals, and a reviewer whose TOTP seed totp seals.
func seed(t *testing.T, pool *pgxpool.Pool, data func(aad []byte) []byte, n int, tokenOf func(i int, id string) []byte, totp []byte) *store {
	t.Helper()
	ctx := context.Background()
	s := &store{t: t, pool: pool, hash: make([]byte, 32)}
	_, _ = rand.Read(s.hash)
	now := time.Now()
	q := db.New(pool)
	if err := q.InsertSession(ctx, &db.SessionRow{IDHash: s.hash, Kind: "admin", Data: data(s.hash), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if _, err := pool.Exec(ctx, `INSERT INTO connections (id, session_id_hash, region, tenant_id, user_id, tokens, access_expires_at, created_at)
			VALUES ($1, $2, 'na1', 't', $3, $4, $5, $5)`, id, s.hash, fmt.Sprint("u", i), tokenOf(i, id), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.InsertReviewer(ctx, &db.Reviewer{Username: "rita", PasswordHash: "$argon2id$not-a-real-hash", TOTPSealed: totp, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return s
}

// Run re-seals, in batches smaller than the table, every value under an
// older key or from before key ids; leaves alone (and counts) a value no
// key of the ring opens; records one event; does nothing the second time;
// and every re-sealed value still opens to what it held.
func TestRunReSealsEverythingReadableOnce(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	oldKey, newKey, lostKey := randomKey(), randomKey(), randomKey()
	ring := keyring.New(newKey, oldKey)
	oldTokens := sealer(t, keyring.New(oldKey), seal.Tokens)
	lostTokens := sealer(t, keyring.New(lostKey), seal.Tokens)
	s := seed(t, pool, func(aad []byte) []byte { return legacySeal(t, oldKey, seal.SessionData, []byte(`{"a":"b"}`), aad) }, 7,
		func(i int, id string) []byte {
			switch i {
			case 5:
				return legacySeal(t, oldKey, seal.Tokens, []byte("token-5"), []byte(id))
			case 6:
				return lostTokens.Seal([]byte("token-6"), []byte(id))
			}
			return oldTokens.Seal([]byte(fmt.Sprint("token-", i)), []byte(id))
		},
		sealer(t, keyring.New(oldKey), seal.TOTP).Seal([]byte("seed"), reviewer.TOTPAAD("rita")))
	keys, _ := audit.DeriveKeys(keyring.New(randomKey()))
	w := audit.NewWriter(pool, keys, slog.New(slog.NewTextHandler(io.Discard, nil)))
	actor := audit.Actor{Kind: kp.ActorSystem, UserID: "test"}

	res, err := rekey.Run(ctx, pool, ring, w, actor, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []rekey.Column{{Name: "tokens", Resealed: 6, Unreadable: 1}, {Name: "totp seeds", Resealed: 1}, {Name: "session data", Resealed: 1}}
	if fmt.Sprint(res.Columns) != fmt.Sprint(want) || res.KeyID != keyring.ID(newKey) || res.Checkpoint == nil {
		t.Fatalf("first run = %+v, want columns %+v under %s and a checkpoint", res, want, keyring.ID(newKey))
	}
	again, err := rekey.Run(ctx, pool, ring, w, actor, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Columns[0].Resealed+again.Columns[1].Resealed+again.Columns[2].Resealed != 0 || again.Unreadable() != 1 {
		t.Fatalf("second run = %+v, want nothing re-sealed and the one unreadable value still counted", again.Columns)
	}
	var events int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'keys.rekey'
		AND details->'counts'->>'tokens re-sealed' IS NOT NULL AND details->>'signing_key_id' = $1`, keyring.ID(newKey)).Scan(&events); err != nil || events != 2 {
		t.Fatalf("%d keys.rekey events with counts (%v), want one per run", events, err)
	}

	newOnly := sealer(t, keyring.New(newKey), seal.Tokens)
	rows, _ := pool.Query(ctx, `SELECT id::text, tokens FROM connections ORDER BY id`)
	var opened int
	for rows.Next() {
		var id string
		var sealed []byte
		_ = rows.Scan(&id, &sealed)
		if plain, err := newOnly.Open(sealed, []byte(id)); err == nil {
			opened++
			if want := "token-" + id[len(id)-1:]; string(plain) != want {
				t.Errorf("connection %s holds %q, want %q", id, plain, want)
			}
		}
	}
	if opened != 6 {
		t.Fatalf("%d tokens open under the new key alone, want 6", opened)
	}
	var data []byte
	_ = pool.QueryRow(ctx, `SELECT data FROM sessions`).Scan(&data)
	if plain, err := sealer(t, keyring.New(newKey), seal.SessionData).Open(data, s.hash); err != nil || string(plain) != `{"a":"b"}` {
		t.Fatalf("session data under the new key: %q, %v", plain, err)
	}

	st, err := rekey.Status(ctx, pool, rekey.Rings{Session: keyring.New(randomKey()), Encryption: ring, Audit: keyring.New(randomKey()), AuditKeys: keys}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	needed := map[string]bool{}
	for _, k := range st {
		if k.Ring == "KEYPORT_ENCRYPTION_KEY" {
			needed[k.KeyID] = k.Needed()
		}
	}
	if needed[keyring.ID(oldKey)] || !needed[keyring.ID(lostKey)] || !needed[keyring.ID(newKey)] || len(needed) != 3 {
		t.Fatalf("encryption ring status = %v; want the old key not needed, the lost key (not in the ring) needed", needed)
	}
}

// A row a portal rewrote after rekey read it is not overwritten: the swap
// compares the value it read.
func TestSwapComparesWhatItRead(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	oldKey, newKey := randomKey(), randomKey()
	old := sealer(t, keyring.New(oldKey), seal.Tokens)
	seed(t, pool, func(aad []byte) []byte {
		return sealer(t, keyring.New(oldKey), seal.SessionData).Seal([]byte("{}"), aad)
	}, 1,
		func(_ int, id string) []byte { return old.Seal([]byte("read"), []byte(id)) }, nil)
	q := db.New(pool)
	col := db.SealedColumns[0]
	page, err := q.SealedPage(ctx, col, "", []byte{2, 0, 0, 0, 0}, 10)
	if err != nil || len(page) != 1 {
		t.Fatalf("page = %v, %v", page, err)
	}
	portal := sealer(t, keyring.New(newKey, oldKey), seal.Tokens)
	written := portal.Seal([]byte("refreshed"), []byte(page[0].RowKey))
	if err := q.UpdateConnectionTokens(ctx, page[0].RowKey, written, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	n, err := q.SwapSealed(ctx, col, []string{page[0].RowKey}, [][]byte{page[0].Sealed}, [][]byte{portal.Seal([]byte("read"), []byte(page[0].RowKey))})
	if err != nil || n != 0 {
		t.Fatalf("swap over a rewritten row changed %d rows (%v), want 0", n, err)
	}
	var got []byte
	_ = pool.QueryRow(ctx, `SELECT tokens FROM connections`).Scan(&got)
	if plain, _ := portal.Open(got, []byte(page[0].RowKey)); string(plain) != "refreshed" {
		t.Fatalf("the row holds %q, want the portal's refresh", plain)
	}
}
