package auditsink

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// BenchmarkWitness1M (by name: go test -run '^$' -bench Witness1M
// -benchtime 1x ./internal/auditsink; seeds for a few minutes) measures
// `verify --witness` on a 1 M event trail whose file sink copy is whole:
// reading the file (every record's hash recomputed), comparing with the
// database, and the heap it takes.
func BenchmarkWitness1M(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	pool := pgtest.NewPool(b)
	if _, err := audit.Seed(ctx, pool, n, 1, time.Now()); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw) // what the file sink writes
	err = db.New(pool).ScanAuditChain(ctx, 0, 10000, func(e *kp.AuditEvent) error {
		r := audit.RecordOf(e)
		return enc.Encode(&r)
	})
	if err == nil {
		err = bw.Flush()
	}
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		start := time.Now()
		w, err := ReadWitness(ctx, "file://"+path, WitnessOptions{})
		if err != nil {
			b.Fatal(err)
		}
		read := time.Since(start)
		rep, err := audit.CompareWitness(ctx, pool, w.Events)
		if err != nil {
			b.Fatal(err)
		}
		if st := rep.Status(0); st != audit.WitnessAgrees {
			b.Fatalf("status %s, want agrees", st)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(read.Seconds(), "read_s")
		b.ReportMetric((time.Since(start) - read).Seconds(), "compare_s")
		b.ReportMetric(float64(ms.HeapInuse>>20), "heap_MB")
	}
}
