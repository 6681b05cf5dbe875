package keys

import (
	"context"
	"errors"
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

// verifyResults are the words Keyport's notes on a key keep for each
// outcome of its last verification.
var verifyResults = map[kp.Outcome]string{kp.OutcomeSuccess: "works", kp.OutcomeFailure: "rejected", kp.OutcomeUnknown: "unknown"}

// ErrWrongSecret marks a verify Keyport refused itself: the key is active and
// the pasted secret is not the one whose fingerprint Keyport recorded when it
// created the key. Handlers keep the form; errors.Is finds it under the kp.Error.
var ErrWrongSecret = errors.New("the secret does not match the key's recorded fingerprint")

// secretMatch is what Keyport can tell about a pasted secret by itself.
type secretMatch int

const (
	secretUnknown secretMatch = iota // Keyport holds no fingerprint (created outside it)
	secretMatches
	secretDiffers
)

// Verify obtains a token with the key's id and secret, which is how a key is
// shown to work. The token is discarded; the result is kept as metadata.
//
// When the key is active and Keyport holds its secret's fingerprint, a
// secret that does not match is refused here: asking CXone would only
// record a working key as "rejected" because of a typo.
func (s *Service) Verify(ctx context.Context, as connection.Caller, keyID string, keySecret secret.Secret) (*VerifyResult, error) {
	if keySecret.IsZero() {
		return nil, kp.Errorf(kp.Invalid, "Paste the key's secret to verify it.")
	}
	k, err := s.target(ctx, as, kp.KeyVerify, keyID)
	if err != nil {
		return nil, err
	}
	match, last4 := s.matchSecret(ctx, as, k.ID, keySecret)
	if match == secretDiffers && k.Active && !k.ActiveUnknown {
		// Only CXone's own answer changes "last verified": nothing is recorded on the key.
		ev := as.Event(kp.KeyVerify, k.ID)
		ev.Details.OwnerUserID = k.UserID
		s.audit.Note(ctx, ev, audit.Result{Outcome: kp.OutcomeDenied, Details: &audit.Details{Result: "wrong secret"},
			Message: "refused by Keyport without asking CXone: the pasted secret does not match the fingerprint recorded when Keyport created the key"})
		return nil, kp.Wrap(kp.Invalid, ErrWrongSecret, wrongSecretMessage(last4))
	}
	var res *VerifyResult
	err = s.audit.Do(ctx, as.Event(kp.KeyVerify, k.ID), func(ctx context.Context) (audit.Result, error) {
		tokens, err := s.conns.TokenFromAccessKey(ctx, as.Conn.Region, k.ID, keySecret)
		var r audit.Result
		res, r = verified(as, k, match, tokens, err)
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	if err := db.New(s.pool).RecordVerification(context.WithoutCancel(ctx), as.Conn.Region, as.Conn.TenantID, k.ID, k.UserID,
		s.now(), verifyResults[res.Outcome]); err != nil {
		s.log.ErrorContext(ctx, "record verification", "err", err)
	}
	return res, nil
}

// matchSecret compares keySecret with the fingerprint Keyport recorded for
// keyID, and returns the recorded secret's last four characters. A store
// it cannot read counts as "unknown": CXone then decides.
func (s *Service) matchSecret(ctx context.Context, as connection.Caller, keyID string, keySecret secret.Secret) (secretMatch, string) {
	m, err := db.New(s.pool).KeyMeta(ctx, as.Conn.Region, as.Conn.TenantID, keyID)
	if err != nil || m.SecretFingerprint == "" {
		return secretUnknown, ""
	}
	if s.audit.Keys().MatchFingerprint(m.SecretFingerprint, keySecret) {
		return secretMatches, m.SecretLast4
	}
	return secretDiffers, m.SecretLast4
}

func wrongSecretMessage(last4 string) string {
	made := "the secret Keyport made"
	if last4 != "" {
		made += " ends in …" + last4
	}
	return "This is not this key's secret: " + made + ". Check for a missing or extra character. CXone was not asked, and the key's verification record is unchanged."
}

// verified reads CXone's answer to a token request with key k: a token
// means it works; a 400, 401 or 403 means CXone rejected it, and what
// Keyport knows (the key's state, whether the secret matches its
// fingerprint) narrows down why; anything else leaves it unknown.
func verified(as connection.Caller, k *cxone.AccessKey, match secretMatch, tokens *cxone.Tokens, err error) (*VerifyResult, audit.Result) {
	if err == nil {
		res := &VerifyResult{Works: true, Outcome: kp.OutcomeSuccess, Message: fmt.Sprintf("Key %s works: CXone issued a token for it.", k.ID)}
		id := tokens.Identity
		if (id.TenantID != "" && !strings.EqualFold(id.TenantID, as.Conn.TenantID)) || (id.UserID != "" && k.UserID != "" && !strings.EqualFold(id.UserID, k.UserID)) {
			res.Warning = "The token CXone issued names a different user or tenant than the key's listed owner."
		}
		return res, audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Result: "works", Warning: res.Warning}}
	}
	res, r := &VerifyResult{}, connection.Failure(err)
	switch cxone.KindOf(err) {
	case cxone.BadRequest, cxone.Unauthorized, cxone.Forbidden:
		res.Outcome = kp.OutcomeFailure
		res.Message = connection.WithUpstream("CXone rejected key "+k.ID+": "+rejectedBecause(k, match), err)
	default:
		res.Outcome = kp.OutcomeUnknown
		res.Message = "Keyport could not tell whether the key works: " + kp.MessageOf(connection.UpstreamError(err, "verify"))
	}
	r.Outcome, r.Details = res.Outcome, &audit.Details{Result: verifyResults[res.Outcome]}
	return res, r
}

// rejectedBecause says why CXone most likely refused a token, from what
// Keyport knows: the key's state as CXone just listed it, and whether the
// secret matches the fingerprint Keyport recorded.
func rejectedBecause(k *cxone.AccessKey, match secretMatch) string {
	switch {
	case k.ActiveUnknown:
		return "the secret is wrong, or the key is inactive or was deleted meanwhile (CXone did not say whether it is active)."
	case !k.Active && match == secretDiffers:
		return "the key is inactive, and the secret is not the one Keyport made for it."
	case !k.Active:
		return "the key is inactive. Reactivate it to use it again."
	case match == secretMatches:
		return "the key was active and the secret is the one Keyport made, so it was most likely deactivated or deleted meanwhile (another console or script). Reload the keys page."
	default:
		return "the key is active, so the secret is most likely wrong (Keyport did not create this key, so it cannot check the secret itself)."
	}
}

// LookupResult is what a leaked-secret lookup found.
type LookupResult struct {
	Found bool
	Key   *Key
}

// Lookup finds which of the tenant's keys a pasted secret belongs to, by
// its keyed fingerprint. The pasted value is neither stored nor logged.
func (s *Service) Lookup(ctx context.Context, as connection.Caller, pasted secret.Secret) (*LookupResult, error) {
	v := strings.TrimSpace(pasted.Reveal())
	if v == "" {
		return nil, kp.Errorf(kp.Invalid, "Paste the secret you want to look up.")
	}
	if len(v) > 256 {
		return nil, kp.Errorf(kp.Invalid, "That is too long to be an access-key secret.")
	}
	meta, err := db.New(s.pool).KeyMetaByFingerprint(ctx, as.Conn.Region, as.Conn.TenantID, s.audit.Keys().Fingerprints(secret.New(v)))
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot search its records right now.")
	}
	if meta == nil {
		if err := s.audit.Record(ctx, as.Event(kp.KeyLookup, ""), audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Result: "no match"}}); err != nil {
			return nil, err
		}
		return &LookupResult{}, nil
	}
	res := &LookupResult{Found: true}
	k, lerr := s.conns.GetKey(ctx, as, meta.AccessKeyID)
	switch {
	case lerr == nil:
		m := s.merge(*k, *meta)
		res.Key = &m
	case cxone.KindOf(lerr) == cxone.NotFound:
		res.Key = &Key{ID: meta.AccessKeyID, OwnerUserID: meta.OwnerUserID, Label: meta.Label, StateUnknown: true, LastVerifyResult: "deleted in CXone"}
	default:
		res.Key = &Key{ID: meta.AccessKeyID, OwnerUserID: meta.OwnerUserID, Label: meta.Label, StateUnknown: true}
	}
	if err := s.audit.Record(ctx, as.Event(kp.KeyLookup, meta.AccessKeyID), audit.Result{Outcome: kp.OutcomeSuccess,
		Details: &audit.Details{Result: "match", SecretFingerprint: meta.SecretFingerprint}}); err != nil {
		return nil, err
	}
	return res, nil
}

// CheckSecret checks, without calling CXone, that keySecret is the secret
// Keyport saw when it created keyID in this tenant (its fingerprint): the
// creation page's .env download sends the secret back, and only that
// secret gets an answer.
func (s *Service) CheckSecret(ctx context.Context, as connection.Caller, keyID string, keySecret secret.Secret) error {
	if keySecret.IsZero() {
		return kp.Errorf(kp.Invalid, "The secret is missing.")
	}
	m, err := db.New(s.pool).KeyMeta(ctx, as.Conn.Region, as.Conn.TenantID, keyID)
	if err != nil && kp.KindOf(err) != kp.NotFound {
		return kp.StoreError(err, "Keyport cannot read its notes on this key right now.")
	}
	if err != nil || m.SecretFingerprint == "" {
		return kp.Errorf(kp.NotFound, "Keyport did not create key %s, so it cannot check a secret for it.", keyID)
	}
	if !s.audit.Keys().MatchFingerprint(m.SecretFingerprint, keySecret) {
		return kp.Errorf(kp.Invalid, "That secret does not belong to key %s.", keyID)
	}
	return nil
}
