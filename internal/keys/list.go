package keys

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
)

// Pending is a create whose outcome Keyport does not know yet, or could not
// pin to one key.
type Pending struct {
	FormToken    string
	OwnerUserID  string
	Label        string
	State        string // unknown, ambiguous
	CandidateIDs []string
	CreatedAt    time.Time
}

// Listing is the keys page's content.
type Listing struct {
	Keys               []Key
	Pending            []Pending
	Owners             []string // users seen in the list, for the filter
	OwnOnly            bool     // the user lacks "Access Key": own keys only
	PossiblyIncomplete bool
	Reconciled         []string          // messages about creates reconciled just now
	Rotations          map[string]string // old key id → its open rotation's id
	Names              map[string]string // lower-case user id → name (see UserNames)
	AsOf               *time.Time        // when Keyport last saw the tenant's whole list
}

// List lists the connection's keys (or userFilter's), merging Keyport's
// notes, and reconciles creates whose outcome was unknown.
func (s *Service) List(ctx context.Context, as connection.Caller, userFilter string) (*Listing, error) {
	userFilter = strings.TrimSpace(userFilter)
	list, err := s.list(ctx, as, userFilter)
	if err != nil {
		s.audit.Note(ctx, as.Event(kp.KeyList, ""), connection.Failure(err))
		return nil, connection.UpstreamError(err, "list keys")
	}
	return s.listing(ctx, as, list, userFilter)
}

// listing makes the keys page of a list CXone gave: it settles the pending
// creates the list can tell about, merges Keyport's notes into the keys,
// and records that the keys were listed.
func (s *Service) listing(ctx context.Context, as connection.Caller, list keyList, userFilter string) (*Listing, error) {
	out := &Listing{OwnOnly: list.ownOnly, PossiblyIncomplete: list.PossiblyIncomplete}
	s.observeList(ctx, as.Conn, list)
	notes, err := s.notes(ctx, as.Conn, list)
	if err != nil {
		return nil, err
	}
	if msgs, settled := s.reconcile(ctx, as, list, notes.Pending); settled {
		out.Reconciled = msgs
		if s.cache != nil {
			s.cache.Invalidate(as.Conn.Region, as.Conn.TenantID)
		}
		if notes, err = s.notes(ctx, as.Conn, list); err != nil { // what settling changed
			return nil, err
		}
	}
	out.Keys, out.Owners = s.mergeAll(list.Keys, notes.Meta)
	out.AsOf = notes.AsOf
	for i := range out.Keys {
		var seen *time.Time
		if t, ok := notes.FirstSeen[out.Keys[i].ID]; ok {
			seen = &t
		}
		s.judge(&out.Keys[i], notes.Policy, seen, notes.AsOf)
	}
	for _, p := range notes.Pending {
		if userFilter == "" || p.OwnerUserID == userFilter {
			out.Pending = append(out.Pending, pendingOf(p, nil))
		}
	}
	out.Pending = append(out.Pending, ambiguous(notes.Ambiguous, list.Keys, userFilter)...)
	out.Rotations, out.Names = notes.Rotations, notes.Names
	if as.Conn.UserName != "" && as.Conn.UserName != as.Conn.UserID {
		out.Names[strings.ToLower(as.Conn.UserID)] = as.Conn.UserName // the freshest: this very token
	}
	if err := s.audit.View(ctx, as.Event(kp.KeyList, ""), audit.Result{Outcome: kp.OutcomeSuccess,
		Details: &audit.Details{Count: int64(len(out.Keys)), Filters: map[string]string{"user": userFilter}}}); err != nil {
		return nil, err
	}
	return out, nil
}

// notes reads, in one statement, what Keyport keeps about the tenant's keys
// and the names of the list's owners.
func (s *Service) notes(ctx context.Context, conn *connection.Connection, list keyList) (*db.TenantNotes, error) {
	ids := []string{conn.UserID}
	for _, k := range list.Keys {
		ids = append(ids, k.UserID)
	}
	var notes *db.TenantNotes
	var err error
	if s.cache != nil {
		notes, err = s.cache.Notes(ctx, conn.Region, conn.TenantID, uniqueIDs(ids))
	} else {
		notes, err = db.New(s.pool).TenantNotes(ctx, conn.Region, conn.TenantID, uniqueIDs(ids))
	}
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot read its notes on these keys right now. Try again in a moment.")
	}
	return notes, nil
}

func pendingOf(p kp.CreateAttempt, candidates []string) Pending {
	return Pending{FormToken: p.FormToken, OwnerUserID: p.OwnerUserID, Label: p.Label, State: p.State,
		CandidateIDs: candidates, CreatedAt: p.CreatedAt}
}

// mergeAll merges Keyport's notes into listed keys, Keyport's own newest
// first, then the others by id, and returns the keys' owners, sorted.
func (s *Service) mergeAll(listed []cxone.AccessKey, meta map[string]kp.KeyMeta) ([]Key, []string) {
	var keys []Key
	seen := map[string]bool{}
	var owners []string
	for _, k := range listed {
		if !seen[k.UserID] {
			seen[k.UserID] = true
			owners = append(owners, k.UserID)
		}
		keys = append(keys, s.merge(k, meta[k.ID]))
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if (a.CreatedAt == nil) != (b.CreatedAt == nil) {
			return a.CreatedAt != nil
		}
		if a.CreatedAt != nil && !a.CreatedAt.Equal(*b.CreatedAt) {
			return a.CreatedAt.After(*b.CreatedAt)
		}
		return a.ID < b.ID
	})
	sort.Strings(owners)
	return keys, owners
}

// Pending returns the tenant's creates whose outcome is not known yet. It
// needs no upstream call, so the keys page can show them even when CXone
// cannot be reached.
func (s *Service) Pending(ctx context.Context, conn *connection.Connection) ([]Pending, error) {
	rows, err := db.New(s.pool).PendingKeyCreates(ctx, conn.Region, conn.TenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Pending, 0, len(rows))
	for _, p := range rows {
		out = append(out, Pending{FormToken: p.FormToken, OwnerUserID: p.OwnerUserID, Label: p.Label, State: p.State, CreatedAt: p.CreatedAt})
	}
	return out, nil
}

// ambiguous keeps the tenant's ambiguous creates that still name keys in
// listed: they stay on the keys page, with their candidates, until none of
// those keys exists any more (the person has sorted them out).
func ambiguous(rows []kp.CreateAttempt, listed []cxone.AccessKey, userFilter string) []Pending {
	var out []Pending
	for _, p := range rows {
		if userFilter != "" && p.OwnerUserID != userFilter {
			continue
		}
		var still []string
		for _, id := range p.CandidateIDs {
			if slices.ContainsFunc(listed, func(k cxone.AccessKey) bool { return k.ID == id }) {
				still = append(still, id)
			}
		}
		if len(still) > 0 {
			out = append(out, pendingOf(p, still))
		}
	}
	return out
}

// keyList is CXone's list of keys and whose keys it holds.
type keyList struct {
	*cxone.KeyList
	user    string // the one user whose keys it holds; "" for the whole tenant
	ownOnly bool   // the caller lacks "Access Key": it holds their own keys only
}

// covers says whether the list holds all of owner's keys (unless CXone
// says it may be incomplete).
func (l keyList) covers(owner string) bool {
	return l.user == "" || strings.EqualFold(l.user, owner)
}

// list asks CXone for the tenant's keys (or one user's). A user without the
// "Access Key" privilege gets a 403 on a tenant-wide list; Keyport learns
// that once and from then on lists the user's own keys only.
func (s *Service) list(ctx context.Context, as connection.Caller, user string) (keyList, error) {
	conn := as.Conn
	ownOnly := conn.CanManageOthers != nil && !*conn.CanManageOthers
	if ownOnly {
		user = conn.UserID
	}
	list, err := s.conns.ListKeys(ctx, as, user)
	if err == nil && user == "" && conn.CanManageOthers == nil {
		s.conns.SetCanManageOthers(ctx, conn, true)
	}
	if cxone.KindOf(err) == cxone.Forbidden && user != conn.UserID {
		s.conns.SetCanManageOthers(ctx, conn, false)
		ownOnly, user = true, conn.UserID
		list, err = s.conns.ListKeys(ctx, as, user)
	}
	if err != nil {
		return keyList{ownOnly: ownOnly}, err
	}
	// Defence in depth: never show a key CXone says belongs elsewhere.
	keys := list.Keys[:0]
	for _, k := range list.Keys {
		if k.TenantID == "" || strings.EqualFold(k.TenantID, conn.TenantID) {
			keys = append(keys, k)
		}
	}
	list.Keys = keys
	return keyList{KeyList: list, user: user, ownOnly: ownOnly}, nil
}

// reconcile settles the tenant's pending creates whose owner the list
// covers, and says whether it tried any (the notes are then stale).
func (s *Service) reconcile(ctx context.Context, as connection.Caller, list keyList, pending []kp.CreateAttempt) (msgs []string, settled bool) {
	for i := range pending {
		p := &pending[i]
		if !list.covers(p.OwnerUserID) {
			continue // a list of another user's keys says nothing about this owner's
		}
		settled = true
		r := s.settle(ctx, as, p, list.KeyList)
		if r.State != "unknown" {
			msgs = append(msgs, r.Message)
		}
	}
	return msgs, settled
}
