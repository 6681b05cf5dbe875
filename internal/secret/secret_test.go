package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	const canary = "CANARY-7f3a9c-secret-value"
	s := New(canary)
	type holder struct {
		Token Secret
		P     *Secret
	}
	h := holder{Token: s, P: &s}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		fmt.Fprintf(&out, verb+"\n", s)
		fmt.Fprintf(&out, verb+"\n", h)
		fmt.Fprintf(&out, verb+"\n", &h)
	}
	fmt.Fprintln(&out, s, h, []Secret{s}, map[string]Secret{"k": s})
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	for _, handler := range []slog.Handler{slog.NewJSONHandler(&out, nil), slog.NewTextHandler(&out, nil)} {
		slog.New(handler).Info("msg", "secret", s, "holder", h, slog.Any("any", s))
	}
	if strings.Contains(out.String(), canary) {
		t.Fatalf("canary leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("expected [redacted] in output:\n%s", out.String())
	}
	if s.Reveal() != canary {
		t.Fatalf("Reveal() = %q, want the raw value", s.Reveal())
	}
}
