package handlers_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/seal"
)

// dumpDatabase returns every row of every table in the public schema as
// text: what an attacker with a database dump would read.
func dumpDatabase(t *testing.T, a *testApp) string {
	t.Helper()
	ctx := context.Background()
	rows, err := a.Pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tbl := range tables {
		var dump *string
		if err := a.Pool.QueryRow(ctx, `SELECT string_agg(t::text, E'\n') FROM `+pgx.Identifier{tbl}.Sanitize()+` t`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		if dump != nil {
			b.WriteString(tbl + ":\n" + *dump + "\n")
		}
	}
	return b.String()
}

// TestCanariesNeverLeak runs the admin journey and then looks for the real
// credentials it handled (the basic token, the bearer and refresh tokens
// CXone issued, the new key's secret) in the logs, in every database column
// as text, and in every page served after the creation page.
func TestCanariesNeverLeak(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	basic, err := a.Sim.BasicToken("na1", ten.ID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := b.post("/connect", url.Values{"region": {"na1"}, "basic_token": {basic.Reveal()}})
	if p.Status != 303 {
		t.Fatalf("connect: %d", p.Status)
	}
	b.follow(p)
	// The bearer and refresh tokens are only in the sealed column; open it
	// with the configured key to learn the real values to look for.
	var connID string
	var sealed []byte
	if err := a.Pool.QueryRow(context.Background(), `SELECT id::text, tokens FROM connections`).Scan(&connID, &sealed); err != nil {
		t.Fatal(err)
	}
	sl, err := seal.New(a.Config.EncryptionKey, "cxone tokens")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sl.Open(sealed, []byte(connID))
	if err != nil {
		t.Fatal(err)
	}
	var toks struct{ A, R string }
	if err := json.Unmarshal(plain, &toks); err != nil || toks.A == "" || toks.R == "" {
		t.Fatalf("sealed tokens: %v", err)
	}

	keysPage, created := b.createKey("canary key")
	keyID := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	keySecret := strings.TrimSpace(created.Doc.Find(`[data-testid="key-secret"]`).Text())
	if keySecret == "" {
		t.Fatal("no secret on the creation page")
	}
	afterCreation := len(b.seen)
	b.post("/keys", url.Values{"intent": {intentOf(keysPage)}, "label": {"canary key"}}) // a reload shows no secret
	b.follow(b.post("/keys/"+keyID+"/verify", url.Values{"access_key_secret": {keySecret}}))
	b.post("/keys/lookup", url.Values{"access_key_secret": {keySecret}})
	b.follow(b.post("/keys/"+keyID+"/deactivate", nil))
	b.follow(b.post("/keys/"+keyID+"/delete", url.Values{"confirm": {confirmFor(keyID)}}))
	b.get("/keys/activity")
	b.post("/connect", url.Values{"region": {"na1"}, "basic_token": {basic.Reveal()}}) // reused: rejected

	canaries := map[string]string{
		"basic token":         basic.Reveal(),
		"bearer":              toks.A,
		"refresh token":       toks.R,
		"access-key secret":   keySecret,
		"secret sans padding": strings.TrimRight(keySecret, "="),
	}
	logs := a.Log.String()
	db := dumpDatabase(t, a)
	html := strings.Join(b.seen[afterCreation:], "\n")
	for name, v := range canaries {
		for where, hay := range map[string]string{"logs": logs, "database": db, "pages after the creation page": html} {
			if strings.Contains(hay, v) {
				t.Errorf("the %s appears in the %s", name, where)
			}
		}
	}
	// The lookup found the key by fingerprint, so the fingerprint is stored.
	if !strings.Contains(db, "canary key") || !strings.Contains(html, "lookup-result") {
		t.Error("the journey did not run as expected (label or lookup result missing)")
	}
}
