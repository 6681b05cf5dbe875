package keys

import (
	"context"
	"crypto/sha256"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/connection"
)

// The credential report (issue 15) is what Keyport last saw of every key:
// each list, create, state change and delete records it. The report is a
// copy for reviewers, so recording never fails an admin's action: a failure
// is logged and the next sighting records again.

// reportEvery is how often an unchanged list is recorded again, to move
// the tenant's "as of": page views stay at their statement budget (issue
// 14) and the report is never more than a minute behind what admins saw.
const reportEvery = time.Minute

// sightings remembers, per tenant, area and scope, what this process last
// recorded of a list and when.
type sightings struct {
	mu   sync.Mutex
	last map[string]sighting
}

type sighting struct {
	sum [32]byte
	at  time.Time
}

// due says whether a list with this digest must be recorded now, and
// remembers it as recorded when it must.
func (s *sightings) due(key string, sum [32]byte, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[string]sighting{}
	}
	if l, ok := s.last[key]; ok && l.sum == sum && now.Sub(l.at) < reportEvery {
		return false
	}
	s.last[key] = sighting{sum, now}
	return true
}

// forget makes the next list of key be recorded whatever it holds (after a
// failed write, or a change Keyport made itself).
func (s *sightings) forget(key string) {
	s.mu.Lock()
	delete(s.last, key)
	s.mu.Unlock()
}

func seenKey(k cxone.AccessKey) db.SeenKey {
	sk := db.SeenKey{ID: k.ID, OwnerUserID: k.UserID, LastUsed: k.LastUsed}
	if !k.ActiveUnknown {
		active := k.Active
		sk.Active = &active
	}
	return sk
}

// observeList records a list CXone gave: a complete list of the whole
// tenant (or of one owner's keys) also marks gone what it lacks.
func (s *Service) observeList(ctx context.Context, conn *connection.Connection, list keyList) {
	scan := db.CredentialScan{Region: string(conn.Region), TenantID: conn.TenantID, TenantName: conn.TenantName,
		Complete: !list.PossiblyIncomplete, OwnerOnly: list.user, At: s.now()}
	h := sha256.New()
	for _, k := range list.Keys {
		sk := seenKey(k)
		scan.Keys = append(scan.Keys, sk)
		h.Write([]byte(k.ID + "\x00" + k.UserID + "\x00" + strconv.FormatBool(k.Active) + strconv.FormatBool(k.ActiveUnknown) + "\x00" + k.LastUsedRaw + "\x00"))
		if k.LastUsed != nil {
			h.Write([]byte(k.LastUsed.UTC().String()))
		}
	}
	sort.Slice(scan.Keys, func(i, j int) bool { return scan.Keys[i].ID < scan.Keys[j].ID })
	var sum [32]byte
	h.Sum(sum[:0])
	key := string(conn.Region) + "/" + conn.TenantID + "/" + list.user
	if !s.seen.due(key, sum, scan.At) {
		return
	}
	if err := db.New(s.pool).RecordCredentialScan(context.WithoutCancel(ctx), scan); err != nil {
		s.seen.forget(key)
		s.log.WarnContext(ctx, "credential report: record a list", "err", err)
		return
	}
	s.policy.Sync(ctx, conn.Region, conn.TenantID)
}

// observeKey records one key Keyport just created or changed.
func (s *Service) observeKey(ctx context.Context, conn *connection.Connection, k cxone.AccessKey) {
	scan := db.CredentialScan{Region: string(conn.Region), TenantID: conn.TenantID, TenantName: conn.TenantName,
		Keys: []db.SeenKey{seenKey(k)}, At: s.now()}
	if err := db.New(s.pool).RecordCredentialScan(context.WithoutCancel(ctx), scan); err != nil {
		s.log.WarnContext(ctx, "credential report: record a key", "key", k.ID, "err", err)
	} else {
		s.policy.Sync(ctx, conn.Region, conn.TenantID)
	}
	s.seen.forget(string(conn.Region) + "/" + conn.TenantID + "/")
}

// observeGone records that a key no longer exists.
func (s *Service) observeGone(ctx context.Context, conn *connection.Connection, keyID string) {
	if err := db.New(s.pool).RecordCredentialGone(context.WithoutCancel(ctx), string(conn.Region), conn.TenantID, keyID, s.now()); err != nil {
		s.log.WarnContext(ctx, "credential report: record a key gone", "key", keyID, "err", err)
	} else {
		s.policy.Sync(ctx, conn.Region, conn.TenantID)
	}
	s.seen.forget(string(conn.Region) + "/" + conn.TenantID + "/")
}
