package db_test

import (
	"context"
	"os"
	"testing"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// A value the database refuses is the request's fault (422), an
// unreachable database is an outage (503), and any other statement error is
// a bug (500): never "database unavailable" for bad bytes.
func TestStoreErrorsSayWhoseFaultItIs(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	var s string
	cases := []struct {
		name string
		err  error
		want kp.Kind
	}{
		{"NUL in text", pool.QueryRow(ctx, `SELECT $1::text`, "a\x00b").Scan(&s), kp.Invalid},
		{"invalid UTF-8", pool.QueryRow(ctx, `SELECT convert_from('\xff'::bytea, 'UTF8')`).Scan(&s), kp.Invalid},
		{"check constraint", func() error {
			_, err := pool.Exec(ctx, `CREATE TEMP TABLE t (x text CHECK (length(x) < 3)); INSERT INTO t VALUES ('long')`)
			return err
		}(), kp.Invalid},
		{"syntax error (a bug)", pool.QueryRow(ctx, `SELEC 1`).Scan(&s), kp.Internal},
	}
	pool2 := pgtest.NewPool(t)
	pool2.Close()
	cases = append(cases, struct {
		name string
		err  error
		want kp.Kind
	}{"closed pool", pool2.QueryRow(ctx, `SELECT 1`).Scan(&s), kp.Unavailable})
	for _, c := range cases {
		if c.err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		if got := kp.StoreKind(c.err); got != c.want {
			t.Errorf("%s: kind %v, want %v (%v)", c.name, got, c.want, c.err)
		}
		e := kp.StoreError(c.err, "down")
		if (e.Message == "down") != (c.want == kp.Unavailable) {
			t.Errorf("%s: message %q", c.name, e.Message)
		}
	}
}
