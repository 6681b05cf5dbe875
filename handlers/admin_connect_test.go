package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyport/keyport/cxone/cxonesim"
)

// flashes maps each flash message's text (without its kind in words) to its
// class.
func flashes(p *page) map[string]string {
	out := map[string]string{}
	p.Doc.Find(`[data-testid="flash"]`).Each(func(_ int, s *goquerySelection) {
		cls, _ := s.Attr("class")
		out[strings.TrimSpace(s.Find(`[data-testid="flash-message"]`).Text())] = cls
	})
	return out
}

// TestDecoratedTokensConnectAndTheFlashSaysWhatHappened: a token pasted
// with a Basic prefix, quotes and line breaks connects; the flash says
// where to, once, and leaves who to the identity bar.
func TestDecoratedTokensConnectAndTheFlashSaysWhatHappened(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	tok, err := a.Sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw := tok.Reveal()
	pasted := "  “Basic " + raw[:50] + "\r\n" + raw[50:100] + "\n" + raw[100:] + "”\n"
	b := a.browser()
	p := b.post("/connect", url.Values{"region": {"na1"}, "basic_token": {pasted}, "next": {"/keys/activity"}})
	if p.Status != http.StatusSeeOther || p.Location != "/keys/activity" {
		t.Fatalf("decorated token: %d to %q: %s", p.Status, p.Location, text(p))
	}
	p = b.follow(p)
	want := "Connected to " + ten.Name + " (na1)."
	if got := flashes(p); len(got) != 1 || got[want] != "kp-flash success" {
		t.Errorf("flashes = %v, want only the success %q", got, want)
	}
	if f := p.Doc.Find(`[data-testid="flash"]`).Text(); strings.Contains(f, admin.Email) || strings.Contains(f, "Connected as") {
		t.Errorf("the flash repeats who is connected (the identity bar says it): %q", f)
	}
	for _, s := range b.seen {
		if strings.Contains(s, raw) || strings.Contains(s, raw[:50]) {
			t.Fatal("a page echoes the token")
		}
	}
	if strings.Contains(a.Log.String(), raw[50:100]) {
		t.Error("the log holds part of the token")
	}
}

// TestConnectRefusalsKeepTheAreaAndSayWhy: every refusal re-renders the
// form with the area and next chosen; a na1 token in eu1 is not called
// expired, and once the session knows the tenant's area the page offers
// it.
func TestConnectRefusalsKeepTheAreaAndSayWhy(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	token := func() string {
		tok, err := a.Sim.BasicToken("na1", ten.ID, admin.ID)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Reveal()
	}
	b := a.browser()
	for _, tc := range []struct {
		name, region, token string
		wantStatus          int
		wantMsg             string
	}{
		{"an empty token", "eu1", "  ", 422, "Paste the basic token"},
		{"an access key id", "au1", strings.Repeat("B", 52) + "====", 422, "That is an access key id"},
		{"a control character", "uk1", "eyJ.a\x1b.b", 422, "control character"},
		{"a na1 token in eu1", "eu1", token(), 401, "the likeliest cause is the area"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/connect", url.Values{"region": {tc.region}, "basic_token": {tc.token}, "next": {"/keys/activity"}})
			if p.Status != tc.wantStatus || !strings.Contains(formError(p), tc.wantMsg) {
				t.Fatalf("status %d, error %q; want %d and %q", p.Status, formError(p), tc.wantStatus, tc.wantMsg)
			}
			for _, form := range []string{`[data-testid="connect-form"]`, `form[action="/connect/access-key"]`} {
				if sel, _ := p.Doc.Find(form + ` select[name="region"] option[selected]`).Attr("value"); sel != tc.region {
					t.Errorf("%s has %q chosen, want %q", form, sel, tc.region)
				}
				if next, _ := p.Doc.Find(form + ` input[name="next"]`).Attr("value"); next != "/keys/activity" {
					t.Errorf("%s lost next: %q", form, next)
				}
			}
			if strings.Contains(formError(p), "Generate a new one") {
				t.Errorf("advises a new token: %q", formError(p))
			}
			if p.Doc.Find(`[data-testid="retry-area"]`).Length() != 0 {
				t.Error("offers an area Keyport cannot know")
			}
		})
	}
	// The same token still works in na1; then a new token of that tenant
	// in eu1 is named for what it is, with na1 offered.
	tok := token()
	if p := b.post("/connect", url.Values{"region": {"na1"}, "basic_token": {tok}}); p.Status != http.StatusSeeOther {
		t.Fatalf("connect in na1: %d %s", p.Status, text(p))
	}
	p := b.post("/connect", url.Values{"region": {"eu1"}, "basic_token": {token()}, "next": {"/keys/activity"}})
	want := "This token is for " + ten.Name + ", which you connected to in na1 (North America); you chose eu1 (Europe)."
	if p.Status != http.StatusUnauthorized || !strings.Contains(formError(p), want) {
		t.Fatalf("known tenant in eu1: %d %q", p.Status, formError(p))
	}
	retry, _ := p.Doc.Find(`[data-testid="retry-area"]`).Attr("href")
	if retry != "/connect?next=%2Fkeys%2Factivity&region=na1" {
		t.Fatalf("retry link %q", retry)
	}
	p = b.get(retry)
	if sel, _ := p.Doc.Find(`[data-testid="region"] option[selected]`).Attr("value"); p.Status != 200 || sel != "na1" {
		t.Errorf("the retry link opens the form with %q chosen (status %d), want na1", sel, p.Status)
	}
	if next, _ := p.Doc.Find(`[data-testid="connect-form"] input[name="next"]`).Attr("value"); next != "/keys/activity" {
		t.Errorf("the retry link lost next: %q", next)
	}
}

// TestTheAreaListNamesAreasAndTheirAddresses: each built-in area has a
// name, and the help lists the address to match against.
func TestTheAreaListNamesAreasAndTheirAddresses(t *testing.T) {
	a := newTestApp(t)
	p := a.browser().get("/connect")
	opts := map[string]string{}
	p.Doc.Find(`[data-testid="region"] option`).Each(func(_ int, s *goquerySelection) {
		v, _ := s.Attr("value")
		opts[v] = strings.TrimSpace(s.Text())
	})
	for code, want := range map[string]string{"na1": "na1 — North America", "eu1": "eu1 — Europe", "au1": "au1 — Australia",
		"uk1": "uk1 — United Kingdom", "ca1": "ca1 — Canada", "jp1": "jp1 — Japan", "na2": "na2 — North America, second area"} {
		if opts[code] != want {
			t.Errorf("option %s reads %q, want %q", code, opts[code], want)
		}
	}
	if sel, _ := p.Doc.Find(`[data-testid="region"] option[selected]`).Attr("value"); sel != "na1" {
		t.Errorf("default area %q, want na1", sel)
	}
	help := p.Doc.Find(`[data-testid="area-help"]`).Text()
	simNA1 := strings.Replace(a.Sim.URLTemplate(), "{region}", "na1", 1)
	if !strings.Contains(help, "How to find your area") || !strings.Contains(help, simNA1) ||
		p.Doc.Find(`[data-testid="area-address"]`).Length() != len(opts) {
		t.Errorf("area help %q lacks the addresses (want %s among %d)", help, simNA1, len(opts))
	}
}

// TestAUserWithoutKeyPrivilegesIsToldAtConnect: not a green "connected",
// but what is missing and what to do.
func TestAUserWithoutKeyPrivilegesIsToldAtConnect(t *testing.T) {
	a := newTestApp(t)
	ten, _, _ := tenantUsers(t, a.Sim, "na1", 0)
	var viewer cxonesim.User
	for _, u := range ten.Users {
		if !u.AccessKey && !u.MyAccessKey {
			viewer = u
		}
	}
	p := a.browser().connect("na1", ten.ID, viewer.ID)
	got := flashes(p)
	if len(got) != 1 {
		t.Fatalf("flashes = %v, want one", got)
	}
	for msg, cls := range got {
		if cls != "kp-flash warning" || !strings.HasPrefix(msg, "Connected to "+ten.Name+" (na1), but") ||
			!strings.Contains(msg, "“My Access Key”") || !strings.Contains(msg, "“Access Key”") || !strings.Contains(msg, "Ask a CXone administrator") {
			t.Errorf("flash %q (%s), want a warning naming both privileges and what to do", msg, cls)
		}
	}
}
