package handlers_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
)

// rfc6238 computes a TOTP code independently of internal/reviewer.
func rfc6238(t *testing.T, b32 string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(b32))
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", code%1_000_000)
}

func TestReviewerWithTOTPSignsInOnTheWeb(t *testing.T) {
	a := newTestApp(t)
	sealer, err := reviewer.NewTOTPSealer(a.Config.EncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := reviewer.New(a.Pool, a.App.Audit, sealer, reviewer.Options{Params: reviewer.Params{Memory: 64, Time: 1, Threads: 1}})
	enr, err := svc.Add(context.Background(), audit.Actor{Kind: kp.ActorSystem, UserID: "test"}, "tess", secret.New(reviewerPassword), true)
	if err != nil || enr == nil {
		t.Fatalf("add with TOTP: %v", err)
	}
	u, err := url.Parse(enr.URI.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	b32 := u.Query().Get("secret")
	generic := func(p *page) string { return strings.TrimSpace(p.Doc.Find(`[data-testid="login-error"]`).Text()) }

	wrong := a.browser().post("/auditor/login", url.Values{"username": {"tess"}, "password": {reviewerPassword}, "totp": {"000000"}})
	missing := a.browser().post("/auditor/login", url.Values{"username": {"tess"}, "password": {reviewerPassword}})
	badPassword := a.browser().post("/auditor/login", url.Values{"username": {"tess"}, "password": {"nope"}, "totp": {rfc6238(t, b32, time.Now())}})
	for name, p := range map[string]*page{"wrong code": wrong, "missing code": missing, "wrong password": badPassword} {
		if p.Status != http.StatusUnauthorized || generic(p) == "" || generic(p) != generic(wrong) {
			t.Errorf("%s: status %d message %q (wrong code said %q)", name, p.Status, generic(p), generic(wrong))
		}
	}
	ok := a.browser().post("/auditor/login", url.Values{"username": {"tess"}, "password": {reviewerPassword}, "totp": {rfc6238(t, b32, time.Now())}})
	if ok.Status != http.StatusSeeOther || ok.Location != "/audit" {
		t.Fatalf("sign-in with the right code: %d %q %s", ok.Status, ok.Location, text(ok))
	}
}
