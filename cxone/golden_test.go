package cxone

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fakeJWT builds an unsigned JWT with claims; decoding never checks the
// signature, so these exercise the parsers only.
func fakeJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"typ":"JWT","alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// The vendor guide's refresh answer (cxone-api.md §5.1), with its
// "refreshTokenExpirationTimeSec": 0 and "sessionId": null.
func TestGoldenGuideRefreshBody(t *testing.T) {
	bearer := fakeJWT(`{"sub":"user:11eb660f-aaaa","tenantId":"11e9-tenant","exp":` + itoa(t0.Add(50*time.Minute).Unix()) + `}`)
	body := `{"token":"` + bearer + `","tokenExpirationTimeSec":3600,"refreshToken":"` + fakeJWT(`{}`) + `","refreshTokenExpirationTimeSec":0,"sessionId":null}`
	o, err := decodeObject([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokensFromObject(o, t0)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Access.Reveal() != bearer || tok.Refresh.IsZero() || !tok.ID.IsZero() {
		t.Errorf("tokens not read")
	}
	if !tok.AccessExpires.Equal(t0.Add(time.Hour)) {
		t.Errorf("access expires %v, want now+3600s", tok.AccessExpires)
	}
	if !tok.RefreshExpires.IsZero() {
		t.Errorf("refresh expires %v, want unknown for 0", tok.RefreshExpires)
	}
	// sessionId "" (LakeNice) and numbers as strings are accepted too.
	body2 := strings.Replace(strings.Replace(body, `"sessionId":null`, `"sessionId":""`, 1), `3600`, `"3600"`, 1)
	o2, _ := decodeObject([]byte(body2))
	if _, err := tokensFromObject(o2, t0); err != nil {
		t.Errorf("sessionId \"\": %v", err)
	}
}

// The guide's access-key token answer types its numbers as "long"; a real
// answer has numbers or numeric strings. The literal placeholder must fail
// naming the field, never silently become 0.
func TestGoldenGuideAccessKeyTokenBody(t *testing.T) {
	a := fakeJWT(`{"sub":"user:u1","tenantId":"t1"}`)
	ok := []string{
		`{"access_token":"` + a + `","token_type":"Bearer","expires_in":3600,"refresh_token":"` + a + `","refresh_token_expires_in":3600,"id_token":"` + a + `"}`,
		`{"access_token":"` + a + `","token_type":"bearer","expires_in":"3600","refresh_token":"` + a + `","refresh_token_expires_in":"3600","id_token":"` + a + `","issued_token_type":"urn:x"}`,
		`{"accessToken":"` + a + `","tokenType":"Bearer","expiresIn":3600.0,"refreshToken":"` + a + `","idToken":"` + a + `"}`,
	}
	for _, b := range ok {
		o, _ := decodeObject([]byte(b))
		tok, err := tokensFromObject(o, t0)
		if err != nil || !tok.AccessExpires.Equal(t0.Add(time.Hour)) || tok.ID.IsZero() {
			t.Errorf("%s: %v", b[:30], err)
		}
	}
	guide := `{"access_token": "` + a + `", "token_type":"string", "expires_in": "long", "refresh_token": "string", "refresh_token_expires_in": "long", "id_token":"same as access token"}`
	o, _ := decodeObject([]byte(guide))
	if _, err := tokensFromObject(o, t0); err == nil || !strings.Contains(err.Error(), "token_type") {
		t.Errorf("guide placeholder body: %v, want an error naming token_type", err)
	}
	noToken := `{"token_type":"Bearer","expires_in":3600}`
	o, _ = decodeObject([]byte(noToken))
	if _, err := tokensFromObject(o, t0); err == nil {
		t.Error("answer without an access token accepted")
	}
}

const (
	goodID  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST===="
	goodSec = "QRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCD===="
)

func TestGoldenCreateWrappers(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
		agent               string
	}{
		{"guide accessKey", `{"accessKey":{"accessKeyId":"` + goodID + `","accessKeySecret":"` + goodSec + `","userId":"u","tenantId":"t","isActive":true}}`, "", ""},
		{"OAS resultSet", `{"resultSet":{"accessKeyId":"` + goodID + `","accessKeySecret":"` + goodSec + `","userId":"u","tenantId":"t","agentId":123,"billingId":456,"isActive":true}}`, "", "123"},
		{"resultSet with numbers as strings", `{"resultSet":{"accessKeyId":"` + goodID + `","accessKeySecret":"` + goodSec + `","userId":"u","tenantId":"t","agentId":"123","billingId":"456","isActive":"true"}}`, "", "123"},
		{"both naming the same key", `{"accessKey":{"accessKeyId":"` + goodID + `","accessKeySecret":"` + goodSec + `","userId":"u","tenantId":"t"},"resultSet":{"accessKeyId":"` + goodID + `","userId":"u","tenantId":"t"}}`, "", ""},
		{"both naming different keys", `{"accessKey":{"accessKeyId":"` + goodID + `","accessKeySecret":"` + goodSec + `"},"resultSet":{"accessKeyId":"OTHER","accessKeySecret":"` + goodSec + `"}}`, "different keys", ""},
		{"no secret", `{"accessKey":{"accessKeyId":"` + goodID + `"}}`, "no accessKey or resultSet", ""},
		{"bare object", `{"accessKeyId":"` + goodID + `","accessKeySecret":"` + goodSec + `"}`, "no accessKey or resultSet", ""},
		{"id over 256 characters", `{"accessKey":{"accessKeyId":"` + strings.Repeat("A", 257) + `","accessKeySecret":"` + goodSec + `"}}`, "longer than 256", ""},
		{"non-printable secret", `{"accessKey":{"accessKeyId":"` + goodID + `","accessKeySecret":"ab\u0007c"}}`, "not printable", ""},
		{"agentId not a number", `{"resultSet":{"accessKeyId":"` + goodID + `","accessKeySecret":"` + goodSec + `","agentId":"twelve"}}`, `"agentId": not a number`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := decodeObject([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			k, err := parseCreated(o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), goodSec) || strings.Contains(err.Error(), "twelve") {
					t.Fatalf("error quotes a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.ID != goodID || k.Secret.Reveal() != goodSec || !k.Active || k.AgentID != tc.agent {
				t.Errorf("created = %+v agent %q", k.AccessKey, k.AgentID)
			}
		})
	}
}

func TestGoldenListAndGet(t *testing.T) {
	list := `{"totalRecords":2,"_links":{"self":"/x","next":"","previous":null},"accessKeys":[
	 {"accessKeyId":"K1","userId":"u","tenantId":"t","agentId":123,"billingId":456,"isActive":true,"lastUsedDate":"2025-03-04T05:06:07Z","accessKeySecret":"SHOULD-NOT-BE-READ"},
	 {"accessKeyId":"K2","userId":"u","tenantId":"t","agentId":null,"isActive":"false","unknownField":{"a":1}}]}`
	h := http.Header{"Content-Type": {"application/json;charset=UTF-8"}}
	keys, total, next, err := parseListPage(&response{status: 200, header: h, body: []byte(list)})
	if err != nil || total != 2 || next != "" || len(keys) != 2 {
		t.Fatalf("list: %v %d %q %d", err, total, next, len(keys))
	}
	if k := keys[0]; k.AgentID != "123" || k.BillingID != "456" || !k.Active || k.LastUsed == nil || k.LastUsedRaw != "2025-03-04T05:06:07Z" {
		t.Errorf("key 1 = %+v", k)
	}
	if k := keys[1]; k.Active || k.ActiveUnknown || k.AgentID != "" || k.LastUsed != nil || k.LastUsedRaw != "" {
		t.Errorf("key 2 = %+v", k)
	}
	for _, empty := range []string{"", "[]", `{"totalRecords":0}`, `{"accessKeys":[]}`} {
		if keys, _, _, err := parseListPage(&response{status: 200, header: h, body: []byte(empty)}); err != nil || len(keys) != 0 {
			t.Errorf("%q: %v %v", empty, keys, err)
		}
	}
	for _, bad := range []string{`{"totalRecords":3}`, `{"accessKeys":{}}`, `{"accessKeys":[{"userId":"u"}]}`, `<html>`, `{"accessKeys":[{"accessKeyId":"K","agentId":true}]}`} {
		if _, _, _, err := parseListPage(&response{status: 200, header: h, body: []byte(bad)}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, _, _, err := parseListPage(&response{status: 200, header: http.Header{"Content-Type": {"text/html"}}, body: []byte(`{}`)}); err == nil {
		t.Error("text/html list accepted")
	}
	// GET (OAS): no accessKeyId, an accessKeySecret that must be dropped.
	o, _ := decodeObject([]byte(`{"userId":"u","tenantId":"t","agentId":123,"billingId":456,"isActive":true,"lastUsedDate":"1700000000000","accessKeySecret":"S"}`))
	k, err := parseKey(o, "K9")
	if err != nil || k.ID != "K9" || k.LastUsed == nil || !k.LastUsed.Equal(time.UnixMilli(1700000000000)) {
		t.Errorf("get = %+v, %v", k, err)
	}
}

func TestGoldenLastUsedFormats(t *testing.T) {
	want := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, in := range []string{`"2025-03-04T05:06:07Z"`, `"2025-03-04T05:06:07.000Z"`, `"2025-03-04T00:06:07-05:00"`,
		`"2025-03-04T05:06:07"`, `"2025-03-04 05:06:07"`, `1741064767000`, `"1741064767000"`, `"2025-03-04T05:06:07+0000"`} {
		got, raw := parseLastUsed(json.RawMessage(in))
		if got == nil || !got.Equal(want) || raw == "" {
			t.Errorf("%s → %v %q, want %v", in, got, raw, want)
		}
	}
	for _, in := range []string{`null`, `""`, ``} {
		if got, raw := parseLastUsed(json.RawMessage(in)); got != nil || raw != "" {
			t.Errorf("%s → %v %q, want unknown", in, got, raw)
		}
	}
	if got, raw := parseLastUsed(json.RawMessage(`"last Tuesday"`)); got != nil || raw != "last Tuesday" {
		t.Errorf("unparseable → %v %q, want raw kept", got, raw)
	}
}

func TestErrorMessagePrecedence(t *testing.T) {
	jwt := fakeJWT(`{"sub":"x"}`)
	cases := []struct {
		name, body, header, ctype string
		status                    int
		want                      string
	}{
		{"oauth", `{"error":"invalid_grant","error_description":"Token expired"}`, "", "", 401, "Token expired"},
		{"oauth camel", `{"error":"invalid_client","errorDescription":"Bad client"}`, "", "", 401, "Bad client"},
		{"oauth code only", `{"error":"invalid_grant"}`, "", "", 401, "invalid_grant"},
		{"spring", `{"timestamp":"t","status":401,"error":"Unauthorized","message":"Full authentication","path":"/p"}`, "", "", 401, "Full authentication"},
		{"details", `{"code":"X","details":"Key limit","hostName":"h","entityType":"AccessKey","errors":"e"}`, "", "", 400, "Key limit"},
		{"errors string", `{"code":"X","hostname":"h","errors":"Bad userId"}`, "", "", 400, "Bad userId"},
		{"errors object", `{"code":"X","errors":{"userId":"must not be blank","tenantId":"bad"}}`, "", "", 400, "tenantId: bad; userId: must not be blank"},
		{"errors array", `{"errors":[{"message":"one"},"two"]}`, "", "", 400, "one; two"},
		{"msg", `{"msg":"m"}`, "", "", 400, "m"},
		{"detailedMessage", `{"detailedMessage":"dm"}`, "", "", 400, "dm"},
		{"oauth beats spring", `{"message":"spring","error_description":"oauth"}`, "", "", 400, "oauth"},
		{"header only", ``, "Invalid access key", "", 401, "Invalid access key"},
		{"body beats header", `{"message":"body"}`, "header", "", 400, "body"},
		{"html", `<html><body>Bad gateway</body></html>`, "", "text/html", 502, "upstream returned HTML (status 502)"},
		{"html without type", `<!DOCTYPE html><html>x</html>`, "", "", 503, "upstream returned HTML (status 503)"},
		{"status text", ``, "", "", 404, "Not Found"},
		{"unknown status", ``, "", "", 599, "status 599"},
		{"jwt scrubbed", `{"message":"bad token ` + jwt + ` here"}`, "", "", 401, "bad token [redacted] here"},
		{"secret scrubbed", `{"message":"secret ` + goodSec + ` leaked"}`, "", "", 400, "secret [redacted] leaked"},
		{"control characters", `{"message":"a\u0000b\nc\td"}`, "", "", 400, "a b c d"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("icStatusDescription", tc.header)
			}
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			if got := ErrorMessage(tc.status, h, []byte(tc.body)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	long := ErrorMessage(400, nil, []byte(`{"message":"`+strings.Repeat("word ", 200)+`"}`))
	if n := len([]rune(long)); n != 300 {
		t.Errorf("long message has %d runes, want 300", n)
	}
}

func TestDecodeClaimsOfTheVendorExample(t *testing.T) {
	// Claims as in the vendor's decoded dev-environment example (§7).
	payload := `{"role":{"legacyId":"Administrator","id":"11e9","secondaryRoles":[]},"icAgentId":"12345","iss":"https://auth.dev.nice-incontact.com",
	"given_name":"first","aud":"inContact Evolve@inContact.com","icSPId":"7","icBUId":-721488662,"name":"user1@nice.com","tenantId":"11e9-t",
	"sub":"user:11eb660f-u","icClusterId":"DO31","iat":1600000000,"exp":1600003600,"tenant":"perm_testGA1","family_name":"last"}`
	id, err := DecodeClaims([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{UserID: "11eb660f-u", TenantID: "11e9-t", TenantName: "perm_testGA1", DisplayName: "user1@nice.com",
		BusinessUnit: "-721488662", ClusterID: "DO31", AgentID: "12345", Role: "Administrator", Issuer: "https://auth.dev.nice-incontact.com",
		Expires: time.Unix(1600003600, 0).UTC(), IssuedAt: time.Unix(1600000000, 0).UTC()}
	if id != want {
		t.Errorf("got  %+v\nwant %+v", id, want)
	}
	// id_token: userId wins over sub; icBUId as a string.
	id, err = DecodeClaims([]byte(`{"sub":"user:a","userId":"b","icBUId":"-5","given_name":"G","family_name":"F","role":"x"}`))
	if err != nil || id.UserID != "b" || id.BusinessUnit != "-5" || id.DisplayName != "G F" {
		t.Errorf("id_token claims = %+v, %v", id, err)
	}
	for _, bad := range []string{`[]`, `null`, `{"exp":"soon"}`, `{"tenantId":{}}`} {
		if _, err := DecodeClaims([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
