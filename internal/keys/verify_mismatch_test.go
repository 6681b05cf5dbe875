package keys_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// wrongBy is sec with its first character changed: the right shape, the
// wrong secret.
func wrongBy(sec string) string {
	c := byte('A')
	if sec[0] == 'A' {
		c = 'B'
	}
	return string(c) + sec[1:]
}

// A mistyped secret for an active key Keyport created is refused by
// Keyport itself: CXone is not asked, the key's "last verified" stays as
// it was, and the trail holds a denied verify without the secret.
func TestAMistypedSecretIsRefusedWithoutAskingCXone(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	res, err := e.keys.Create(ctx, as, keys.CreateForm{Token: keys.NewFormToken(), Label: "mistyped"})
	if err != nil {
		t.Fatal(err)
	}
	sec := res.Secret.Reveal()
	trimmed := strings.TrimRight(sec, "=")
	tokens := e.sim.Calls(cxonesim.EndpointToken)

	_, err = e.keys.Verify(ctx, as, res.KeyID, secret.New(wrongBy(sec)))
	if kp.KindOf(err) != kp.Invalid || !errors.Is(err, keys.ErrWrongSecret) {
		t.Fatalf("Verify with a mistyped secret: %v; want Invalid wrapping ErrWrongSecret", err)
	}
	if msg := kp.MessageOf(err); !strings.Contains(msg, "not this key's secret") || !strings.Contains(msg, "…"+trimmed[len(trimmed)-4:]) {
		t.Errorf("message %q does not say it is the wrong secret and how the right one ends", msg)
	}
	if got := e.sim.Calls(cxonesim.EndpointToken); got != tokens {
		t.Errorf("%d token requests reached CXone, want none", got-tokens)
	}
	m, err := db.New(e.pool).KeyMeta(ctx, "na1", ten.ID, res.KeyID)
	if err != nil || m.LastVerifiedAt != nil || m.LastVerifyResult != "" {
		t.Errorf("key notes after a refused verify: verified at %v, result %q, %v; want untouched", m.LastVerifiedAt, m.LastVerifyResult, err)
	}
	if n := e.events(t, `action = 'key.verify' AND outcome = 'denied' AND target_key_id = $1 AND details->>'result' = 'wrong secret' AND intent_id IS NULL`, res.KeyID); n != 1 {
		t.Errorf("%d denied verify events with result 'wrong secret', want 1", n)
	}
	if n := e.events(t, `action = 'key.verify' AND outcome = 'intent'`); n != 0 {
		t.Errorf("%d verify intents recorded for a verify that was refused locally", n)
	}
	if n := e.events(t, `position($1 in details::text) > 0 OR position($1 in error_message) > 0`, wrongBy(sec)[:40]); n != 0 {
		t.Errorf("%d audit rows hold the pasted secret", n)
	}

	// The right secret still goes to CXone, and its answer is recorded.
	vr, err := e.keys.Verify(ctx, as, res.KeyID, res.Secret)
	if err != nil || !vr.Works {
		t.Fatalf("Verify with the right secret: %+v, %v", vr, err)
	}
	if m, _ := db.New(e.pool).KeyMeta(ctx, "na1", ten.ID, res.KeyID); m.LastVerifyResult != "works" {
		t.Errorf("last verify result %q after CXone's answer, want works", m.LastVerifyResult)
	}
}

// When CXone rejects, the message says what Keyport knows: the key is
// inactive, or (for a key Keyport did not create) the secret is most
// likely wrong.
func TestARejectedVerifySaysWhichCauseKeyportKnows(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	res, err := e.keys.Create(ctx, as, keys.CreateForm{Token: keys.NewFormToken(), Label: "to deactivate"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.SetActive(ctx, as, res.KeyID, false); err != nil {
		t.Fatal(err)
	}
	outside := keyOf(t, ten, admin.ID, true)
	for _, tc := range []struct {
		name, keyID, secret, want string
	}{
		{"an inactive key with its own secret is said to be inactive", res.KeyID, res.Secret.Reveal(), "the key is inactive. Reactivate it"},
		{"an inactive key with another secret is said to be both", res.KeyID, wrongBy(res.Secret.Reveal()), "inactive, and the secret is not the one Keyport made"},
		{"an active key created outside Keyport has a wrong secret", outside, strings.Repeat("Q", 52) + "====", "the key is active, so the secret is most likely wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := e.sim.Calls(cxonesim.EndpointToken)
			vr, err := e.keys.Verify(ctx, as, tc.keyID, secret.New(tc.secret))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if vr.Works || vr.Outcome != kp.OutcomeFailure || !strings.Contains(vr.Message, tc.want) {
				t.Errorf("Verify = works %v, outcome %s, %q; want a failure saying %q", vr.Works, vr.Outcome, vr.Message, tc.want)
			}
			if got := e.sim.Calls(cxonesim.EndpointToken); got != tokens+1 {
				t.Errorf("%d token requests, want CXone asked once", got-tokens)
			}
		})
	}
}

func TestReplacementLabelMarksTheNewKey(t *testing.T) {
	day := time.Date(2026, 11, 29, 23, 30, 0, 0, time.UTC)
	long := strings.Repeat("é", 100)
	for _, tc := range []struct {
		name, old, want string
	}{
		{"a label gets the day", "reporting ETL", "reporting ETL (rotated 2026-11-29)"},
		{"a key rotated again keeps one mark, the latest", "reporting ETL (rotated 2025-01-02)", "reporting ETL (rotated 2026-11-29)"},
		{"no label names the old key", "", "replacement of ABCDEFGH (rotated 2026-11-29)"},
		{"a full-length label is shortened to fit", long, strings.Repeat("é", 78) + "… (rotated 2026-11-29)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := keys.ReplacementLabel(tc.old, "ABCDEFGHIJKL", day)
			if got != tc.want {
				t.Errorf("ReplacementLabel(%q) = %q, want %q", tc.old, got, tc.want)
			}
			if _, err := keys.ValidateLabel(got); err != nil {
				t.Errorf("the replacement label is not a valid label: %v", err)
			}
		})
	}
}

// A delete whose typed confirmation does not match calls nothing.
func TestADeleteNeedsTheIDsLastFourCharacters(t *testing.T) {
	e := newEnv(t)
	ten, admin, _ := tenant(t, e.sim, 0)
	ctx := context.Background()
	as := e.connect(t, ten.ID, admin.ID)
	id := keyOf(t, ten, admin.ID, false)
	gets := e.sim.Calls(cxonesim.EndpointGet)
	for _, typed := range []string{"", "nope", id[:4], "===="} {
		if _, err := e.keys.Delete(ctx, as, id, typed); !errors.Is(err, keys.ErrNotConfirmed) || kp.KindOf(err) != kp.Invalid {
			t.Errorf("Delete confirmed by %q: %v; want Invalid wrapping ErrNotConfirmed", typed, err)
		}
	}
	if _, ok := e.simKey(t, ten.ID, id); !ok || e.sim.Calls(cxonesim.EndpointDelete) != 0 || e.sim.Calls(cxonesim.EndpointGet) != gets {
		t.Fatal("an unconfirmed delete called CXone")
	}
	if gone, err := e.keys.Delete(ctx, as, id, " "+strings.ToLower(keys.DeleteConfirmation(id))+" "); err != nil || gone {
		t.Fatalf("Delete confirmed by the last four (any case, spaces around): gone %v, %v", gone, err)
	}
}
