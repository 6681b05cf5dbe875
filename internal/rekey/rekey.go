// Package rekey moves what Keyport stored under older keys of its key rings
// to the newest: Run re-encrypts every sealed value (CXone tokens, TOTP
// seeds, session data) under the newest encryption key, and Status says,
// per ring and key id, what still uses each key, so a key is retired only
// when nothing needs it (docs/security.md, key rotation). It imports db,
// the seal and audit leaves and reviewer's AAD; never HTTP.
package rekey

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/seal"
)

// Batch is how many values Run reads, re-seals and swaps per statement.
const Batch = 500

// purposes maps each sealed column to its seal purpose and the AAD its rows
// are bound to.
var purposes = map[string]struct {
	purpose string
	aad     func(rowKey string) ([]byte, error)
}{
	"tokens":       {seal.Tokens, func(k string) ([]byte, error) { return []byte(k), nil }},
	"totp seeds":   {seal.TOTP, func(k string) ([]byte, error) { return reviewer.TOTPAAD(k), nil }},
	"session data": {seal.SessionData, hex.DecodeString},
}

// Column is what Run did to one sealed column.
type Column struct {
	Name string
	// Resealed values are now under the newest key; Changed ones were
	// written meanwhile by a portal (under the newest key: it wins);
	// Unreadable ones open under no key of the ring and were left alone.
	Resealed, Changed, Unreadable int64
}

// Result is what Run did.
type Result struct {
	KeyID      string // the newest encryption key's id
	Columns    []Column
	Checkpoint *db.AuditCheckpoint // signed with the newest audit key after the run; nil if nothing was new
	// Stamped is how many checkpoints made before key ids now record the
	// audit key that signed them.
	Stamped int64
}

// Unreadable is the number of values no key of the ring opens.
func (r Result) Unreadable() int64 {
	var n int64
	for _, c := range r.Columns {
		n += c.Unreadable
	}
	return n
}

// Run re-encrypts every sealed value not under the newest key of enc, in
// batches of batch, each swapped only where the row still holds what was
// read (safe while portals run: one that writes a row meanwhile writes it
// under the newest key, and wins). It is idempotent: a second run finds
// nothing. It then records one keys.rekey event with the counts, signs a
// checkpoint with the newest audit key, so the newest checkpoint, which
// covers the whole chain, no longer needs an older audit key, and records
// on each checkpoint made before key ids the key that signed it.
func Run(ctx context.Context, pool *pgxpool.Pool, enc keyring.Ring, w *audit.Writer, actor audit.Actor, batch int, progress func(Column)) (Result, error) {
	res := Result{KeyID: enc.Newest().ID}
	q := db.New(pool)
	for _, col := range db.SealedColumns {
		p := purposes[col.Name]
		sealer, err := seal.New(enc, p.purpose)
		if err != nil {
			return res, err
		}
		c, err := runColumn(ctx, q, col, sealer, p.aad, batch)
		if err != nil {
			return res, err
		}
		res.Columns = append(res.Columns, c)
		if progress != nil {
			progress(c)
		}
	}
	counts := map[string]int64{}
	for _, c := range res.Columns {
		counts[c.Name+" re-sealed"], counts[c.Name+" changed meanwhile"], counts[c.Name+" unreadable"] = c.Resealed, c.Changed, c.Unreadable
	}
	outcome := kp.OutcomeSuccess
	if res.Unreadable() > 0 {
		outcome = kp.OutcomeFailure
	}
	if err := w.Record(ctx, audit.Event{Actor: actor, Action: kp.KeysRekey},
		audit.Result{Outcome: outcome, Details: &audit.Details{Counts: counts, SigningKeyID: res.KeyID}}); err != nil {
		return res, err
	}
	cp, err := w.Checkpoint(ctx)
	if err != nil {
		return res, err
	}
	res.Checkpoint = cp
	res.Stamped, err = audit.StampCheckpointKeys(ctx, pool, w.Keys())
	return res, err
}

func runColumn(ctx context.Context, q *db.Queries, col db.SealedColumn, sealer *seal.Sealer, aad func(string) ([]byte, error), batch int) (Column, error) {
	c := Column{Name: col.Name}
	current, err := hex.DecodeString("02" + sealer.NewestID())
	if err != nil {
		return c, fmt.Errorf("rekey: key id: %w", err)
	}
	after := ""
	for {
		page, err := q.SealedPage(ctx, col, after, current, batch)
		if err != nil {
			return c, err
		}
		if len(page) == 0 {
			return c, nil
		}
		var keys []string
		var olds, news [][]byte
		for _, r := range page {
			after = r.RowKey
			a, err := aad(r.RowKey)
			if err != nil {
				return c, fmt.Errorf("rekey %s: row key: %w", col.Name, err)
			}
			plain, err := sealer.Open(r.Sealed, a)
			if err != nil {
				c.Unreadable++
				continue
			}
			keys, olds, news = append(keys, r.RowKey), append(olds, r.Sealed), append(news, sealer.Seal(plain, a))
			clear(plain)
		}
		if len(keys) == 0 {
			continue
		}
		n, err := q.SwapSealed(ctx, col, keys, olds, news)
		if err != nil {
			return c, err
		}
		c.Resealed += n
		c.Changed += int64(len(keys)) - n
	}
}

// Use is one kind of thing a key produced that is still stored.
type Use struct {
	What  string     // "sessions", "tokens", "checkpoints", …
	Count int64      //
	Until *time.Time // sessions: the latest expiry
	// Blocks says whether the key is still needed for it: a blocking use
	// goes when sessions expire or `keyport rekey` runs; a covered
	// checkpoint or a fingerprint does not block (Note says why).
	Blocks bool
	Note   string
}

// Key is one key id of one ring and what still uses it.
type Key struct {
	Ring   string // the variable: KEYPORT_SESSION_KEY, …
	KeyID  string // "" for things made before key ids
	Newest bool   // the key that signs or encrypts
	InRing bool   // configured now (false: only the database names it)
	Uses   []Use
}

// Needed reports whether the key may not be retired yet.
func (k Key) Needed() bool {
	if k.Newest {
		return true
	}
	for _, u := range k.Uses {
		if u.Blocks && u.Count > 0 {
			return true
		}
	}
	return false
}

// Rings are the three key rings Status reports on.
type Rings struct {
	Session, Encryption, Audit keyring.Ring
	AuditKeys                  audit.Keys // derived from Audit, to attribute checkpoints made before key ids
}

// Status lists, per ring, each key id (the ring's, newest first, then ids
// only the database names, then "" for things made before key ids) and
// what still uses it.
func Status(ctx context.Context, pool *pgxpool.Pool, r Rings, now time.Time) ([]Key, error) {
	q := db.New(pool)
	var out []Key

	sessions, err := q.SessionCookieKeyUse(ctx, now)
	if err != nil {
		return nil, err
	}
	sk := newRing("KEYPORT_SESSION_KEY", r.Session)
	for _, u := range sessions {
		sk.add(u.KeyID, Use{What: "sessions", Count: u.Count, Until: u.Latest, Blocks: true})
	}
	out = append(out, sk.keys()...)

	ek := newRing("KEYPORT_ENCRYPTION_KEY", r.Encryption)
	for _, col := range db.SealedColumns {
		uses, err := q.SealedKeyUse(ctx, col, now)
		if err != nil {
			return nil, err
		}
		for _, u := range uses {
			use := Use{What: col.Name, Count: u.Count, Blocks: true}
			if col.Name == "session data" {
				use.Until = u.Latest
			}
			ek.add(u.KeyID, use)
		}
	}
	out = append(out, ek.keys()...)

	ak := newRing("KEYPORT_AUDIT_KEY", r.Audit)
	cps, newestCP, err := audit.CheckpointKeys(ctx, pool, r.AuditKeys)
	if err != nil {
		return nil, err
	}
	for _, u := range cps {
		use := Use{What: "checkpoints", Count: u.Count, Blocks: u.KeyID == newestCP}
		if !use.Blocks {
			use.Note = "covered by a newer checkpoint under key " + newestCP
		} else {
			use.Note = "signed the newest checkpoint"
		}
		ak.add(u.KeyID, use)
	}
	fps, err := q.FingerprintKeyUse(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range fps {
		ak.add(u.KeyID, Use{What: "fingerprints", Count: u.Count,
			Note: "forgotten when the key is retired: Keyport then asks CXone, as for a key it did not create"})
	}
	out = append(out, ak.keys()...)
	return out, nil
}

// ringUses gathers one ring's keys and their uses, in report order.
type ringUses struct {
	name  string
	ring  keyring.Ring
	order []string
	by    map[string]*Key
}

func newRing(name string, ring keyring.Ring) *ringUses {
	r := &ringUses{name: name, ring: ring, by: map[string]*Key{}}
	for i, id := range ring.IDs() {
		r.by[id] = &Key{Ring: name, KeyID: id, Newest: i == 0, InRing: true}
		r.order = append(r.order, id)
	}
	return r
}

func (r *ringUses) add(id string, u Use) {
	k := r.by[id]
	if k == nil {
		k = &Key{Ring: r.name, KeyID: id}
		r.by[id] = k
		r.order = append(r.order, id)
	}
	k.Uses = append(k.Uses, u)
}

func (r *ringUses) keys() []Key {
	out := make([]Key, 0, len(r.order))
	for _, id := range r.order {
		if id != "" {
			out = append(out, *r.by[id])
		}
	}
	if k := r.by[""]; k != nil {
		out = append(out, *k)
	}
	return out
}
