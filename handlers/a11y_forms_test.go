package handlers_test

import (
	"net/url"
	"strings"
	"testing"
)

// The connect page asks for one thing, the token: its field has focus when
// the page opens, and after a refusal it is marked invalid and described by
// the refusal, so the focused field says what went wrong (issue 22).
func TestTheTokenFieldHasFocusAndCarriesTheRefusal(t *testing.T) {
	a := newTestApp(t)
	b := a.browser()
	field := `textarea[name="basic_token"]`
	open := b.get("/connect").Doc.Find(field)
	if _, af := open.Attr("autofocus"); !af || open.AttrOr("aria-invalid", "") != "" {
		t.Fatalf("the token field on a fresh connect page: autofocus %v, aria-invalid %q", af, open.AttrOr("aria-invalid", ""))
	}
	refused := b.post("/connect", url.Values{"region": {"na1"}, "basic_token": {"hello world"}})
	f := refused.Doc.Find(field)
	_, af := f.Attr("autofocus")
	errID := refused.Doc.Find(`[data-testid="form-error"]`).AttrOr("id", "")
	if refused.Status != 422 || !af || f.AttrOr("aria-invalid", "") != "true" || errID == "" ||
		!strings.Contains(" "+f.AttrOr("aria-describedby", "")+" ", " "+errID+" ") {
		t.Fatalf("after a refusal (%d): autofocus %v, aria-invalid %q, described by %q, error id %q",
			refused.Status, af, f.AttrOr("aria-invalid", ""), f.AttrOr("aria-describedby", ""), errID)
	}
}

// A refused access-key connect opens its section and puts focus on its
// first field, described by the refusal; the token field leaves focus to it.
func TestARefusedAccessKeyConnectOpensAndFocusesItsForm(t *testing.T) {
	a := newTestApp(t)
	p := a.browser().post("/connect/access-key", url.Values{"region": {"na1"}, "access_key_id": {strings.Repeat("Q", 52) + "===="}, "access_key_secret": {strings.Repeat("B", 52) + "===="}})
	if p.Status < 400 || p.Status >= 500 {
		t.Fatalf("a made-up access key: status %d", p.Status)
	}
	_, open := p.Doc.Find(`details:has(form[action="/connect/access-key"])`).Attr("open")
	id := p.Doc.Find(`input[name="access_key_id"]`)
	_, af := id.Attr("autofocus")
	_, tokenAF := p.Doc.Find(`textarea[name="basic_token"]`).Attr("autofocus")
	if !open || !af || tokenAF || id.AttrOr("aria-invalid", "") != "true" || id.AttrOr("aria-describedby", "") != p.Doc.Find(`[data-testid="access-key-error"]`).AttrOr("id", "-") {
		t.Fatalf("after a refused access-key connect: section open %v, id field autofocus %v (token field %v), aria-invalid %q, described by %q",
			open, af, tokenAF, id.AttrOr("aria-invalid", ""), id.AttrOr("aria-describedby", ""))
	}
}
