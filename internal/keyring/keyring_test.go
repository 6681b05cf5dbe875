package keyring

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/secret"
)

func TestRingOrderIDsAndPrinting(t *testing.T) {
	a, b := secret.New("key-a-CANARY-0123456789abcdef0123456789"), secret.New("key-b-CANARY-0123456789abcdef0123456789")
	r := New(a, b)
	if r.Len() != 2 || r.Newest().Secret.Reveal() != a.Reveal() || r.Newest().ID != ID(a) {
		t.Fatal("the first key given is not the newest")
	}
	if ID(a) == ID(b) || len(ID(a)) != 2*IDBytes || ID(a) != ID(secret.New(a.Reveal())) {
		t.Fatalf("ids %q %q: want distinct, stable, %d hex digits", ID(a), ID(b), 2*IDBytes)
	}
	if k, ok := r.Lookup(ID(b)); !ok || k.Secret.Reveal() != b.Reveal() || r.Has("00000000") {
		t.Fatal("Lookup by id is wrong")
	}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("ring", "ring", r, "keys", r.Keys())
	j, _ := json.Marshal(r.Keys())
	out := fmt.Sprintf("%v %+v %#v %s %x", r, r, r, r, r) + sb.String() + string(j)
	if strings.Contains(out, "CANARY") || !strings.Contains(out, ID(a)) {
		t.Fatalf("a printed ring shows a key or hides its id: %s", out)
	}
}
