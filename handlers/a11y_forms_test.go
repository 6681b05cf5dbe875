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
