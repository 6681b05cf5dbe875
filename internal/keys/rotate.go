package keys

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/input"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// Rotation steps, in order.
const (
	StepCreated        = "created"
	StepDeployed       = "deployed"
	StepVerified       = "verified"
	StepOldDeactivated = "old_deactivated"
	StepDone           = "done"
)

// StartRotation begins replacing oldKeyID: it creates the replacement (for
// the same owner) and records the wizard's first step. A rotation already
// under way for the key is returned instead of starting another.
func (s *Service) StartRotation(ctx context.Context, as connection.Caller, oldKeyID string) (rot *kp.Rotation, created *CreateResult, err error) {
	old, err := s.Get(ctx, as, kp.KeyRotate, oldKeyID)
	if err != nil {
		return nil, nil, err
	}
	q := db.New(s.pool)
	if open, err := q.OpenRotation(ctx, as.Conn.Region, as.Conn.TenantID, old.ID); err != nil || open != nil {
		if err != nil {
			return nil, nil, kp.StoreError(err, "Keyport cannot read its rotation records right now.")
		}
		return open, nil, nil
	}
	if !old.Active {
		return nil, nil, kp.Errorf(kp.Conflict, "Only an active key can be rotated; this one is already inactive.")
	}
	label := ReplacementLabel(old.Label, old.ID, s.now())
	created, _, err = s.create(ctx, as, CreateForm{Token: NewFormToken(), Label: label, UserID: old.OwnerUserID, replaces: old.ID})
	if err != nil {
		return nil, nil, err
	}
	if created.State != "created" {
		return nil, created, kp.Errorf(kp.Unsettled, "%s", created.Message)
	}
	now := s.now()
	rot = &kp.Rotation{ID: kp.NewUUID(), Region: as.Conn.Region, TenantID: as.Conn.TenantID, OldKeyID: old.ID,
		NewKeyID: created.KeyID, Step: StepCreated, CreatedByUserID: as.Conn.UserID, CreatedAt: now, UpdatedAt: now}
	if err := q.InsertRotation(ctx, rot); err != nil {
		return nil, created, err
	}
	s.rotationEvent(ctx, as, rot, StepCreated)
	return rot, created, nil
}

// rotatedSuffix marks a replacement's label; a key rotated again keeps one
// mark, the latest.
var rotatedSuffix = regexp.MustCompile(` \(rotated \d{4}-\d{2}-\d{2}\)$`)

// ReplacementLabel is the label of the key that replaces one labelled old
// (id oldID): the old label marked with the day, so the list tells old
// and new apart. It fits the label's 100-character cap.
func ReplacementLabel(old, oldID string, now time.Time) string {
	suffix := " (rotated " + now.UTC().Format(time.DateOnly) + ")"
	base := strings.TrimSpace(rotatedSuffix.ReplaceAllString(old, ""))
	if base == "" {
		base = "replacement of " + oldID[:min(8, len(oldID))]
	}
	if r := []rune(base); len(r)+len([]rune(suffix)) > input.MaxLabel {
		base = strings.TrimSpace(string(r[:input.MaxLabel-len([]rune(suffix))-1])) + "…"
	}
	return base + suffix
}

// RotationLabels returns the labels Keyport keeps for a rotation's old and
// new keys ("" when it has none), for the wizard to name them.
func (s *Service) RotationLabels(ctx context.Context, conn *connection.Connection, r *kp.Rotation) (oldLabel, newLabel string) {
	q := db.New(s.pool)
	if m, err := q.KeyMeta(ctx, conn.Region, conn.TenantID, r.OldKeyID); err == nil {
		oldLabel = m.Label
	}
	if m, err := q.KeyMeta(ctx, conn.Region, conn.TenantID, r.NewKeyID); err == nil {
		newLabel = m.Label
	}
	return oldLabel, newLabel
}

// Rotation returns one of the tenant's rotations.
func (s *Service) Rotation(ctx context.Context, conn *connection.Connection, id string) (*kp.Rotation, error) {
	r, err := db.New(s.pool).RotationByID(ctx, conn.Region, conn.TenantID, id)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// OpenRotations maps old key ids to their unfinished rotation ids.
func (s *Service) OpenRotations(ctx context.Context, conn *connection.Connection) (map[string]string, error) {
	return db.New(s.pool).OpenRotations(ctx, conn.Region, conn.TenantID)
}

// StepInput is what a wizard step's form carries: the new key's secret
// (verify) and the typed confirmation (deleting the old key).
type StepInput struct {
	Secret  secret.Secret
	Confirm string
}

// AdvanceRotation performs the rotation's next step. Steps must come in
// order; each is audited (key.rotate) besides the action it performs.
func (s *Service) AdvanceRotation(ctx context.Context, as connection.Caller, id, step string, in StepInput) (*kp.Rotation, *VerifyResult, error) {
	r, err := s.Rotation(ctx, as.Conn, id)
	if err != nil {
		return nil, nil, err
	}
	want := map[string]string{StepDeployed: StepCreated, StepVerified: StepDeployed, StepOldDeactivated: StepVerified, StepDone: StepOldDeactivated}
	if prev, ok := want[step]; !ok || r.Step != prev {
		return r, nil, kp.Errorf(kp.Conflict, "This rotation step does not come next; the wizard shows where you are.")
	}
	var vr *VerifyResult
	switch step {
	case StepVerified:
		vr, err = s.Verify(ctx, as, r.NewKeyID, in.Secret)
		if err != nil {
			return r, nil, err
		}
		if !vr.Works {
			return r, vr, kp.Errorf(kp.Invalid, "%s", vr.Message)
		}
	case StepOldDeactivated:
		if err := s.SetActive(ctx, as, r.OldKeyID, false); err != nil {
			return r, nil, err
		}
	case StepDone:
		if _, err := s.Delete(ctx, as, r.OldKeyID, in.Confirm); err != nil {
			return r, nil, err
		}
	}
	if err := db.New(s.pool).UpdateRotationStep(context.WithoutCancel(ctx), r.ID, step, s.now()); err != nil {
		return r, vr, kp.StoreError(err, "The step was done, but Keyport could not record it; reload the wizard.")
	}
	r.Step = step
	s.rotationEvent(ctx, as, r, step)
	return r, vr, nil
}

func (s *Service) rotationEvent(ctx context.Context, as connection.Caller, r *kp.Rotation, step string) {
	ev := as.Event(kp.KeyRotate, r.OldKeyID)
	ev.Details = audit.Details{Step: step, KeyIDs: []string{r.NewKeyID}, PreviousKeyID: r.OldKeyID}
	s.audit.Note(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess})
}
