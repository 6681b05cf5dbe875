package keys

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
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
	Reconciled         []string // messages about creates reconciled just now
}

// List lists the connection's keys (or userFilter's), merging Keyport's
// notes, and reconciles creates whose outcome was unknown.
func (s *Service) List(ctx context.Context, req connection.Request, conn *connection.Connection, userFilter string) (*Listing, error) {
	userFilter = strings.TrimSpace(userFilter)
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyList}
	list, ownOnly, err := s.list(ctx, req, conn, userFilter)
	if err != nil {
		s.audit.Note(ctx, ev, connection.Failure(err))
		return nil, connection.UpstreamError(err, "list keys")
	}
	out := &Listing{OwnOnly: ownOnly, PossiblyIncomplete: list.PossiblyIncomplete}
	q := db.New(s.pool)
	msgs, err := s.reconcile(ctx, req, conn, list)
	if err != nil {
		s.log.WarnContext(ctx, "reconcile on list", "err", err)
	}
	out.Reconciled = msgs
	meta, err := q.TenantKeyMeta(ctx, conn.Region, conn.TenantID)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot read its notes on these keys right now. Try again in a moment.")
	}
	owners := map[string]bool{}
	for _, k := range list.Keys {
		owners[k.UserID] = true
		out.Keys = append(out.Keys, s.merge(k, meta[k.ID]))
	}
	sort.SliceStable(out.Keys, func(i, j int) bool {
		a, b := out.Keys[i], out.Keys[j]
		if (a.CreatedAt == nil) != (b.CreatedAt == nil) {
			return a.CreatedAt != nil
		}
		if a.CreatedAt != nil && !a.CreatedAt.Equal(*b.CreatedAt) {
			return a.CreatedAt.After(*b.CreatedAt)
		}
		return a.ID < b.ID
	})
	for o := range owners {
		out.Owners = append(out.Owners, o)
	}
	sort.Strings(out.Owners)
	if pending, err := s.Pending(ctx, conn); err == nil {
		for _, p := range pending {
			if userFilter == "" || p.OwnerUserID == userFilter {
				out.Pending = append(out.Pending, p)
			}
		}
	}
	if err := s.audit.Record(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess,
		Details: &audit.Details{Count: int64(len(out.Keys)), Filters: map[string]string{"user": userFilter}}}); err != nil {
		return nil, err
	}
	return out, nil
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

// list asks CXone for the tenant's keys (or one user's). A user without the
// "Access Key" privilege gets a 403 on a tenant-wide list; Keyport learns
// that once and from then on lists the user's own keys only.
func (s *Service) list(ctx context.Context, req connection.Request, conn *connection.Connection, userFilter string) (*cxone.KeyList, bool, error) {
	ownOnly := conn.CanManageOthers != nil && !*conn.CanManageOthers
	if ownOnly {
		userFilter = conn.UserID
	}
	var list *cxone.KeyList
	call := func(user string) error {
		return s.conns.Do(ctx, req, conn, func(bearer secret.Secret) error {
			var err error
			list, err = s.cx.ListKeys(ctx, conn.Region, bearer, user)
			return err
		})
	}
	err := call(userFilter)
	if err == nil && userFilter == "" && conn.CanManageOthers == nil {
		s.conns.SetCanManageOthers(ctx, conn, true)
	}
	if cxone.KindOf(err) == cxone.Forbidden && userFilter != conn.UserID {
		s.conns.SetCanManageOthers(ctx, conn, false)
		ownOnly = true
		err = call(conn.UserID)
	}
	if err != nil {
		return nil, ownOnly, err
	}
	// Defence in depth: never show a key CXone says belongs elsewhere.
	keys := list.Keys[:0]
	for _, k := range list.Keys {
		if k.TenantID == "" || strings.EqualFold(k.TenantID, conn.TenantID) {
			keys = append(keys, k)
		}
	}
	list.Keys = keys
	return list, ownOnly, nil
}

// reconcile settles the tenant's pending creates against a fresh list.
func (s *Service) reconcile(ctx context.Context, req connection.Request, conn *connection.Connection, list *cxone.KeyList) ([]string, error) {
	pending, err := db.New(s.pool).PendingKeyCreates(ctx, conn.Region, conn.TenantID)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	var msgs []string
	for i := range pending {
		p := &pending[i]
		owned := false
		for _, k := range list.Keys {
			if strings.EqualFold(k.UserID, p.OwnerUserID) {
				owned = true
				break
			}
		}
		// A list scoped to another user says nothing about this owner.
		if !owned && !strings.EqualFold(p.OwnerUserID, conn.UserID) && conn.CanManageOthers != nil && !*conn.CanManageOthers {
			continue
		}
		r := s.settle(ctx, req, conn, p, list)
		if r.State != "unknown" {
			msgs = append(msgs, r.Message)
		}
	}
	return msgs, nil
}

// Activity returns the tenant's audit events in the connection's area.
func (s *Service) Activity(ctx context.Context, conn *connection.Connection, limit int) ([]kp.AuditEvent, error) {
	ev, err := db.New(s.pool).TenantActivity(ctx, conn.Region, conn.TenantID, limit)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot read the activity right now.")
	}
	return ev, nil
}
