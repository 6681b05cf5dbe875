package cxonesim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestGenerateKeyPageKeepsTenantAndUserCoherent: the tenant chosen is not
// silently overridden by a user of another tenant; a mismatched pair is
// refused with a message naming both, and the choice is kept.
func TestGenerateKeyPageKeepsTenantAndUserCoherent(t *testing.T) {
	s := New(Options{SigningKey: testKey()})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var na1 []Tenant
	for _, t := range s.Tenants() {
		if t.Region == "na1" {
			na1 = append(na1, t)
		}
	}
	if len(na1) < 2 {
		t.Fatal("need two na1 tenants")
	}
	acme, globex := na1[0], na1[1]
	submit := func(form url.Values) (int, string) {
		t.Helper()
		resp, err := http.PostForm(srv.URL+"/na1/generate-key", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	token := regexp.MustCompile(`data-testid="basic-token"[^>]*>([^<]+)<`)

	status, page := submit(url.Values{"tenant": {acme.ID}, "user": {globex.ID + "/" + globex.Users[0].ID}})
	want := globex.Users[0].Name + " is a user of " + globex.Name + ", not of " + acme.Name + "."
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, want) || token.MatchString(page) {
		t.Fatalf("mismatched pair: %d, want 422 saying %q and no token:\n%s", status, want, page)
	}
	if !strings.Contains(page, `<option value="`+acme.ID+`" selected>`) {
		t.Error("the refusal lost the tenant chosen")
	}

	status, page = submit(url.Values{"tenant": {globex.ID}, "user": {globex.ID + "/" + globex.Users[1].ID}})
	m := token.FindStringSubmatch(page)
	if status != http.StatusOK || m == nil || !strings.Contains(page, `data-testid="user-id">`+globex.Users[1].ID+"<") {
		t.Fatalf("matching pair: %d, want 200 with a token for %s", status, globex.Users[1].ID)
	}
	got := post(t, srv.URL+"/na1/public/user/refresh", "", `{"token":"`+m[1]+`"}`)
	if got["token"] == "" {
		t.Errorf("the token of a matching pair does not exchange: %v", got)
	}

	// The form groups users by tenant, so the script can narrow the list.
	resp, err := http.Get(srv.URL + "/na1/generate-key")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, ten := range na1 {
		if !strings.Contains(string(b), `<optgroup label="`+ten.Name+`" data-tenant="`+ten.ID+`">`) {
			t.Errorf("no user group marked for tenant %s", ten.Name)
		}
	}
}

func TestPickUser(t *testing.T) {
	tenants := []Tenant{{ID: "t1", Name: "Acme", Users: []User{{ID: "u1", Name: "Ada"}}}, {ID: "t2", Name: "Globex", Users: []User{{ID: "u2", Name: "Gus"}}}}
	for _, tc := range []struct {
		name, tenant, user           string
		wantTenant, wantUser, wantIn string
	}{
		{"the user select alone", "", "t2/u2", "t2", "u2", ""},
		{"a matching pair", "t1", "t1/u1", "t1", "u1", ""},
		{"a bare user id takes the tenant chosen", "t1", "u1", "t1", "u1", ""},
		{"a user of another tenant", "t1", "t2/u2", "t1", "u2", "Gus is a user of Globex, not of Acme."},
		{"an unknown tenant's user", "t1", "t9/u9", "t1", "u9", "That user is a user of another tenant, not of Acme."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ten, u, msg := pickUser(tenants, tc.tenant, tc.user)
			if ten != tc.wantTenant || u != tc.wantUser || (tc.wantIn == "") != (msg == "") || !strings.Contains(msg, tc.wantIn) {
				t.Errorf("pickUser = %q, %q, %q; want %q, %q, saying %q", ten, u, msg, tc.wantTenant, tc.wantUser, tc.wantIn)
			}
		})
	}
}
