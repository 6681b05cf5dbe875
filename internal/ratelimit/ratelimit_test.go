package ratelimit_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/ratelimit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// burst sends n attempts for keys, taking turns between the limiters, and
// counts the ones allowed.
func burst(t *testing.T, n int, keys []string, ls ...*ratelimit.Limiter) int {
	t.Helper()
	allowed := 0
	for i := range n {
		err := ls[i%len(ls)].Allow(context.Background(), keys...)
		switch kp.KindOf(err) {
		case kp.Internal:
			if err != nil {
				t.Fatal(err)
			}
			allowed++
		case kp.RateLimited:
		default:
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	return allowed
}

// Two instances (two pools, two limiters) on one database allow what one
// allows: the buckets are shared.
func TestTwoInstancesAllowWhatOneAllows(t *testing.T) {
	url := pgtest.NewDatabase(t)
	pool := func() *pgxpool.Pool {
		p, err := pgxpool.New(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	// 4 a minute: a burst of 2, then one every 15 s, far longer than the test.
	one := burst(t, 10, []string{"ip:192.0.2.1", "session:a"}, ratelimit.New(pool(), 4))
	two := burst(t, 10, []string{"ip:192.0.2.2", "session:b"}, ratelimit.New(pool(), 4), ratelimit.New(pool(), 4))
	if one != 2 || two != one {
		t.Fatalf("one instance allowed %d of 10, two allowed %d; want 2 each (the burst)", one, two)
	}
	// Another client is not limited by the first one's burst.
	if got := burst(t, 1, []string{"ip:192.0.2.3"}, ratelimit.New(pool(), 4)); got != 1 {
		t.Fatal("a fresh client was refused")
	}
	// Either key being empty refuses: a new session from the limited IP.
	if got := burst(t, 1, []string{"ip:192.0.2.1", "session:fresh"}, ratelimit.New(pool(), 4)); got != 0 {
		t.Fatal("a new session from a limited address was allowed")
	}
}

// A limiter that cannot reach its buckets refuses (503), never waves through.
func TestUnreachableBucketsRefuse(t *testing.T) {
	p := pgtest.NewPool(t)
	l := ratelimit.New(p, 20)
	p.Close()
	if err := l.Allow(context.Background(), "ip:192.0.2.9"); kp.KindOf(err) != kp.Unavailable {
		t.Fatalf("closed pool: %v, want Unavailable", err)
	}
}

// BenchmarkAllow is the cost a limited request pays: one statement for both
// of its buckets.
func BenchmarkAllow(b *testing.B) {
	l := ratelimit.New(pgtest.NewPool(b), 1<<30)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := l.Allow(ctx, "ip:192.0.2.1", "session:bench"); err != nil {
			b.Fatal(err)
		}
	}
}
