package keys

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// VerifyResult is what a verification found.
type VerifyResult struct {
	Works   bool
	Outcome kp.Outcome // success (works), failure (rejected), unknown
	Message string
	Warning string
}

// Verify obtains a token with the key's id and secret, which is how a key is
// shown to work. The token is discarded; the result is kept as metadata.
func (s *Service) Verify(ctx context.Context, req connection.Request, conn *connection.Connection, keyID string, keySecret secret.Secret) (*VerifyResult, error) {
	if keySecret.IsZero() {
		return nil, kp.Errorf(kp.Invalid, "Paste the key's secret to verify it.")
	}
	k, err := s.find(ctx, req, conn, kp.KeyVerify, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(ctx, req, conn, kp.KeyVerify, k); err != nil {
		return nil, err
	}
	res := &VerifyResult{}
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyVerify, TargetKeyID: k.ID}
	err = s.audit.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		tokens, err := s.cx.TokenFromAccessKey(ctx, conn.Region, k.ID, keySecret)
		if err == nil {
			res.Works, res.Outcome = true, kp.OutcomeSuccess
			res.Message = fmt.Sprintf("Key %s works: CXone issued a token for it.", k.ID)
			id := tokens.Identity
			if (id.TenantID != "" && !strings.EqualFold(id.TenantID, conn.TenantID)) || (id.UserID != "" && k.UserID != "" && !strings.EqualFold(id.UserID, k.UserID)) {
				res.Warning = "The token CXone issued names a different user or tenant than the key's listed owner."
			}
			return audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Result: "works", Warning: res.Warning}}, nil
		}
		r := connection.Failure(err)
		switch cxone.KindOf(err) {
		case cxone.BadRequest, cxone.Unauthorized, cxone.Forbidden:
			res.Outcome = kp.OutcomeFailure
			r.Outcome = kp.OutcomeFailure
			res.Message = connection.WithUpstream("CXone rejected key "+k.ID+": the secret is wrong, or the key is inactive or deleted.", err)
			r.Details = &audit.Details{Result: "rejected"}
		default:
			res.Outcome = kp.OutcomeUnknown
			r.Outcome = kp.OutcomeUnknown
			res.Message = "Keyport could not tell whether the key works: " + kp.MessageOf(connection.UpstreamError(err, "verify"))
			r.Details = &audit.Details{Result: "unknown"}
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	result := map[kp.Outcome]string{kp.OutcomeSuccess: "works", kp.OutcomeFailure: "rejected", kp.OutcomeUnknown: "unknown"}[res.Outcome]
	if err := db.New(s.pool).RecordVerification(context.WithoutCancel(ctx), conn.Region, conn.TenantID, k.ID, k.UserID, s.now(), result); err != nil {
		s.log.ErrorContext(ctx, "record verification", "err", err)
	}
	return res, nil
}

// LookupResult is what a leaked-secret lookup found.
type LookupResult struct {
	Found bool
	Key   *Key
}

// Lookup finds which of the tenant's keys a pasted secret belongs to, by
// its keyed fingerprint. The pasted value is neither stored nor logged.
func (s *Service) Lookup(ctx context.Context, req connection.Request, conn *connection.Connection, pasted secret.Secret) (*LookupResult, error) {
	v := strings.TrimSpace(pasted.Reveal())
	if v == "" {
		return nil, kp.Errorf(kp.Invalid, "Paste the secret you want to look up.")
	}
	if len(v) > 256 {
		return nil, kp.Errorf(kp.Invalid, "That is too long to be an access-key secret.")
	}
	fp := s.audit.Keys().Fingerprint(secret.New(v))
	meta, err := db.New(s.pool).KeyMetaByFingerprint(ctx, conn.Region, conn.TenantID, fp)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot search its records right now.")
	}
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyLookup}
	if meta == nil {
		if err := s.audit.Record(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Result: "no match"}}); err != nil {
			return nil, err
		}
		return &LookupResult{}, nil
	}
	ev.TargetKeyID = meta.AccessKeyID
	res := &LookupResult{Found: true}
	var k *cxone.AccessKey
	lerr := s.conns.Do(ctx, req, conn, func(b secret.Secret) error {
		var err error
		k, err = s.cx.GetKey(ctx, conn.Region, b, meta.AccessKeyID)
		return err
	})
	switch {
	case lerr == nil:
		m := s.merge(*k, *meta)
		res.Key = &m
	case cxone.KindOf(lerr) == cxone.NotFound:
		res.Key = &Key{ID: meta.AccessKeyID, OwnerUserID: meta.OwnerUserID, Label: meta.Label, StateUnknown: true, LastVerifyResult: "deleted in CXone"}
	default:
		res.Key = &Key{ID: meta.AccessKeyID, OwnerUserID: meta.OwnerUserID, Label: meta.Label, StateUnknown: true}
	}
	if err := s.audit.Record(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Result: "match", SecretFingerprint: fp}}); err != nil {
		return nil, err
	}
	return res, nil
}
