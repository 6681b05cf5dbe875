package cxonesim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func TestSeedDataIsDeterministicAndComplete(t *testing.T) {
	a, b := New(Options{Seed: 7, SigningKey: testKey()}), New(Options{Seed: 7, SigningKey: testKey()})
	ta, tb := a.Tenants(), b.Tenants()
	if len(ta) != 14 {
		t.Fatalf("tenants = %d, want 2 per area × 7", len(ta))
	}
	idFormat := regexp.MustCompile(`^[A-Z2-7]{52}====$`)
	for i := range ta {
		if ta[i].ID != tb[i].ID || ta[i].Keys[0].ID != tb[i].Keys[0].ID || ta[i].Users[0].ID != tb[i].Users[0].ID {
			t.Fatal("same seed, different ids")
		}
		u := ta[i].Users
		if !u[0].AccessKey || !u[0].MyAccessKey || u[1].AccessKey || !u[1].MyAccessKey || u[2].AccessKey || u[2].MyAccessKey {
			t.Errorf("tenant %d privileges = %+v", i, u)
		}
		var inactive, old int
		for _, k := range ta[i].Keys {
			if !idFormat.MatchString(k.ID) {
				t.Errorf("key id %q has the wrong format", k.ID)
			}
			if !k.Active {
				inactive++
			}
			if k.LastUsed != nil && time.Since(*k.LastUsed) > 300*24*time.Hour {
				old++
			}
		}
		if inactive != 1 || old != 1 {
			t.Errorf("tenant %d: %d inactive, %d long unused", i, inactive, old)
		}
	}
	if c := New(Options{Seed: 8, SigningKey: testKey()}).Tenants(); c[0].ID == ta[0].ID {
		t.Error("different seeds, same ids")
	}
}

// BenchmarkNew is how long seeding a simulator takes (tests build many; it
// was a 50 ms assertion in a test, which a busy machine broke).
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New(Options{SigningKey: testKey()})
	}
}

func TestOnlySecretHashesAreStored(t *testing.T) {
	s := New(Options{SigningKey: testKey()})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ten := s.Tenants()[0]
	basic, _ := s.BasicToken(ten.Region, ten.ID, ten.Users[0].ID)
	bearer := post(t, srv.URL+"/"+ten.Region+"/public/user/refresh", "", `{"token":"`+basic.Reveal()+`"}`)["token"].(string)
	created := post(t, srv.URL+"/"+ten.Region+"/access-key-management/v1/access-keys", bearer,
		`{"userId":"`+ten.Users[0].ID+`","tenantId":"`+ten.ID+`"}`)["accessKey"].(map[string]any)
	sec := created["accessKeySecret"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t2 := range s.tenants {
		for _, k := range t2.keys {
			if strings.Contains(string(k.secretHash[:]), sec) {
				t.Fatal("secret stored in clear")
			}
		}
	}
	for _, e := range s.requests {
		if strings.Contains(e.Path+e.BodySHA256, sec) {
			t.Fatal("secret in request log")
		}
	}
}

func post(t *testing.T, u, bearer, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "bearer "+bearer) // the guide's lower case
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d %v", u, resp.StatusCode, err)
	}
	return out
}

func TestGenerateKeyPage(t *testing.T) {
	s := New(Options{SigningKey: testKey()})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/na1/generate-key")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var na1 Tenant
	for _, t := range s.Tenants() {
		if t.Region == "na1" {
			na1 = t
			break
		}
	}
	if resp.StatusCode != 200 || !strings.Contains(string(page), na1.Users[1].ID) || strings.Contains(string(page), `data-testid="basic-token"`) {
		t.Fatalf("form page: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(string(page), "<script>") {
		t.Errorf("CSP %q or inline script", csp)
	}
	resp, err = http.PostForm(srv.URL+"/na1/generate-key", url.Values{"user": {na1.ID + "/" + na1.Users[1].ID}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`data-testid="basic-token"[^>]*>([^<]+)<`).FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil || !strings.Contains(string(page), `data-testid="copy-basic-token"`) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token page: %d %s", resp.StatusCode, page)
	}
	// The shown token exchanges.
	got := post(t, srv.URL+"/na1/public/user/refresh", "", `{"token":"`+string(m[1])+`"}`)
	if got["token"] == "" || got["sessionId"] != nil || got["refreshTokenExpirationTimeSec"] != float64(0) {
		t.Errorf("exchange answer = %v", got)
	}
	js, err := http.Get(srv.URL + "/sim/static/copy.js")
	if err != nil || js.StatusCode != 200 || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("copy.js: %v %v", js, err)
	}
	js.Body.Close()
	resp, _ = http.PostForm(srv.URL+"/na1/generate-key", url.Values{"user": {"nobody/nobody"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("bad pick: %d", resp.StatusCode)
	}
}

func TestControlEndpointAndServe(t *testing.T) {
	s := New(Options{SigningKey: testKey()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, s, nil) }()
	base := "http://" + addr
	deadline := time.Now().Add(5 * time.Second)
	for {
		if resp, err := http.Get(base + "/auth/jwks"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("simulator did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.URLTemplate() != base+"/{region}" || s.JWKSURL() != base+"/auth/jwks" {
		t.Errorf("template %q jwks %q", s.URLTemplate(), s.JWKSURL())
	}
	resp, err := http.Post(base+"/control/faults", "application/json", strings.NewReader(`[{"endpoint":"list","mode":"html_5xx","status":504,"count":2},{"endpoint":"create","mode":"drop_after_commit"}]`))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("inject: %v %v", resp, err)
	}
	s.mu.Lock()
	if len(s.faults) != 2 || s.faults[0].Status != 504 || s.faults[0].left != 2 {
		t.Errorf("faults = %+v", s.faults)
	}
	s.mu.Unlock()
	resp, _ = http.Post(base+"/control/faults", "application/json", strings.NewReader(`{"mode":"explode"}`))
	if resp.StatusCode != 400 {
		t.Errorf("bad mode accepted: %d", resp.StatusCode)
	}
	ten := s.Tenants()[0]
	tok, err := RequestBasicToken(ctx, base, ten.Region, ten.ID, ten.Users[0].ID)
	if err != nil || tok.IsZero() {
		t.Fatalf("basic token over HTTP: %v", err)
	}
	if _, err := RequestBasicToken(ctx, base, ten.Region, ten.ID, "nobody"); err == nil {
		t.Error("basic token for an unknown user")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
