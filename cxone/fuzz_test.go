package cxone

import (
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzErrorMessage(f *testing.F) {
	f.Add(401, []byte(`{"error":"invalid_grant","error_description":"Token expired"}`), "")
	f.Add(400, []byte(`{"code":"X","errors":{"userId":"bad"}}`), "")
	f.Add(502, []byte(`<html>bad gateway</html>`), "")
	f.Add(401, []byte(``), "Invalid token")
	f.Fuzz(func(t *testing.T, status int, body []byte, header string) {
		h := http.Header{}
		h.Set("icStatusDescription", strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return -1
			}
			return r
		}, header))
		got := ErrorMessage(status, h, body)
		if got == "" {
			t.Fatal("empty message")
		}
		if utf8.RuneCountInString(got) > 300 || !utf8.ValidString(got) {
			t.Fatalf("message too long or invalid UTF-8: %q", got)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("control character in %q", got)
			}
		}
		if jwtLike.MatchString(got) || secretLike.MatchString(got) {
			t.Fatalf("credential-looking text survived: %q", got)
		}
	})
}

func FuzzClaims(f *testing.F) {
	f.Add([]byte(`{"sub":"user:u","tenantId":"t","icBUId":-721488662,"exp":1600003600,"role":{"legacyId":"Administrator"}}`))
	f.Add([]byte(`{"sub":"user:","userId":"b","icBUId":"-5","exp":"1600003600"}`))
	f.Add([]byte(`{"exp":1e308,"iat":-1,"role":[1]}`))
	// Hostile values Keyport would store and show: NUL, control characters,
	// invalid UTF-8, markup, a long string.
	f.Add([]byte(`{"sub":"user:a\u0000b","tenantId":"t\u0007","tenant":"<script>alert(1)</script>","name":"x\u2028y"}`))
	f.Add([]byte("{\"sub\":\"user:\xff\xfe\",\"tenant\":\"\xc3\",\"name\":\"" + strings.Repeat("A", 1<<16) + "\"}"))
	f.Add([]byte(`{"sub":"user:../../etc/passwd","tenantId":"' OR 1=1 --","tenant":"{{.}}"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		id, err := DecodeClaims(payload)
		if err != nil {
			return
		}
		for _, s := range []string{id.UserID, id.TenantID, id.TenantName, id.DisplayName, id.BusinessUnit, id.Role} {
			if utf8.RuneCountInString(s) > 300 {
				t.Fatalf("claim not capped: %d runes", utf8.RuneCountInString(s))
			}
			if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
				t.Fatalf("claim %q is not clean text: Keyport stores and shows it", s)
			}
		}
	})
}
