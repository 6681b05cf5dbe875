package keys

import (
	"context"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
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
	label := "rotation of " + old.ID[:min(8, len(old.ID))]
	if old.Label != "" {
		label = old.Label
	}
	created, _, err = s.create(ctx, as, CreateForm{Token: NewFormToken(), Label: label, UserID: old.OwnerUserID})
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

// AdvanceRotation performs the rotation's next step. Steps must come in
// order; each is audited (key.rotate) besides the action it performs.
func (s *Service) AdvanceRotation(ctx context.Context, as connection.Caller, id, step string, keySecret secret.Secret) (*kp.Rotation, *VerifyResult, error) {
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
		vr, err = s.Verify(ctx, as, r.NewKeyID, keySecret)
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
		if _, err := s.Delete(ctx, as, r.OldKeyID); err != nil {
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
