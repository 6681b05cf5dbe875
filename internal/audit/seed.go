package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// Seed appends n synthetic, correctly chained events for development and
// benchmarks: intents with their outcomes across a few tenants, areas,
// actors and keys, spread over the last 30 days. Hashes are computed here
// and rows are loaded with COPY, under the chain lock, so a million events
// take seconds and `keyport audit verify` accepts them.
func Seed(ctx context.Context, pool *pgxpool.Pool, n int, seed uint64, now time.Time) (int, error) {
	return SeedWith(ctx, pool, SeedOptions{Events: n, Seed: seed, Now: now})
}

// SeedOptions shape a seeded trail (benchmarks at scale).
type SeedOptions struct {
	Events  int
	Seed    uint64
	Now     time.Time     // the last event's time
	Span    time.Duration // how far back the first goes (0: 30 days)
	Tenants int           // synthetic tenants (0: the five named ones)
}

// SeedWith is Seed with more tenants and a longer span.
func SeedWith(ctx context.Context, pool *pgxpool.Pool, o SeedOptions) (int, error) {
	n, now := o.Events, o.Now
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	tenants := seedTenants
	if o.Tenants > 0 {
		tenants = syntheticTenants(o.Tenants)
	}
	span := o.Span
	if span == 0 {
		span = 30 * 24 * time.Hour
	}
	const batch = 20000
	written := 0
	for written < n {
		size := min(batch, n-written)
		err := db.CopyAuditEvents(ctx, pool, func(head db.AuditHead) []kp.AuditEvent {
			return seedRows(rng, tenants, span, head, size, n, written, now)
		})
		if err != nil {
			return written, fmt.Errorf("seed audit events: %w", err)
		}
		written += size
	}
	return written, nil
}

type seedTenant struct{ id, name, region string }

// syntheticTenants are n tenants spread over the areas (ids are UUID-shaped).
func syntheticTenants(n int) []seedTenant {
	regions := []string{"na1", "eu1", "au1", "uk1", "ca1", "jp1"}
	out := make([]seedTenant, n)
	for i := range out {
		// the first four characters differ: key and actor ids are built from them
		out[i] = seedTenant{id: fmt.Sprintf("%04x5eed-%04x-4000-8000-%012x", i, i, i),
			name: fmt.Sprintf("Tenant %03d", i), region: regions[i%len(regions)]}
	}
	return out
}

var (
	seedTenants = []seedTenant{
		{"11111111-1111-4111-8111-111111111111", "Acme Contact Centre", "na1"},
		{"22222222-2222-4222-8222-222222222222", "Globex Support", "eu1"},
		{"33333333-3333-4333-8333-333333333333", "Initech Care", "au1"},
		{"44444444-4444-4444-8444-444444444444", "Umbrella Service", "na1"},
		{"55555555-5555-4555-8555-555555555555", "Hooli Help", "uk1"},
	}
	seedActions  = []kp.Action{kp.KeyList, kp.KeyList, kp.KeyList, kp.KeyCreate, kp.KeyVerify, kp.KeyDeactivate, kp.KeyActivate, kp.KeyDelete, kp.Connect, kp.TokenRefresh, kp.KeyLookup}
	seedOutcomes = []kp.Outcome{kp.OutcomeSuccess, kp.OutcomeSuccess, kp.OutcomeSuccess, kp.OutcomeSuccess, kp.OutcomeSuccess, kp.OutcomeSuccess, kp.OutcomeFailure, kp.OutcomeUnknown, kp.OutcomeDenied}
)

func seedRows(rng *rand.Rand, seedTenants []seedTenant, span time.Duration, head db.AuditHead, size, total, done int, now time.Time) []kp.AuditEvent {
	rows := make([]kp.AuditEvent, 0, size)
	prev := head.LastHash
	id := head.LastID
	var h hasher
	var openIntent *kp.AuditEvent
	for len(rows) < size {
		id++
		pos := done + len(rows)
		at := now.Add(-span + time.Duration(float64(span)*float64(pos)/float64(max(total, 1)))).UTC().Truncate(time.Microsecond)
		var e kp.AuditEvent
		if openIntent != nil {
			// the outcome of the previous intent
			e = *openIntent
			intent := openIntent.ID
			e.IntentID = &intent
			o := seedOutcomes[rng.IntN(len(seedOutcomes))]
			e.Outcome = o
			if o == kp.OutcomeFailure || o == kp.OutcomeDenied {
				s := int32([]int{400, 401, 403, 404, 409, 429, 502}[rng.IntN(7)])
				e.UpstreamStatus = &s
				e.ErrorMessage = fmt.Sprintf("upstream refused the request (%d)", s)
			}
			openIntent = nil
		} else {
			t := seedTenants[rng.IntN(len(seedTenants))]
			user := rng.IntN(8)
			e = kp.AuditEvent{
				ActorKind: kp.ActorAdmin, ActorUserID: fmt.Sprintf("%s-user-%d", t.id[:8], user),
				ActorName: fmt.Sprintf("Admin %d of %s", user, t.name), TenantID: t.id, TenantName: t.name,
				Region: kp.Region(t.region), SessionHash: fmt.Sprintf("%032x", rng.Uint64()), ClientIP: fmt.Sprintf("198.51.100.%d", rng.IntN(250)+1),
				UserAgent: "Mozilla/5.0 (seed)", Action: seedActions[rng.IntN(len(seedActions))],
				TargetKeyID: fmt.Sprintf("SEEDKEY%s%06d", t.id[:4], rng.IntN(5000)), Outcome: kp.OutcomeIntent,
				RequestID: fmt.Sprintf("%024x", rng.Uint64()), Details: "{}",
			}
		}
		e.ID, e.OccurredAt, e.HashVersion = id, at, 1
		e.PrevHash = prev
		sum := h.hash(&e, id)
		e.Hash = sum[:]
		prev = e.Hash
		if e.Outcome == kp.OutcomeIntent {
			c := e
			openIntent = &c
		}
		rows = append(rows, e)
	}
	return rows
}
