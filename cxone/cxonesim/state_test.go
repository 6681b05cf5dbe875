package cxonesim

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// simRun is one process's life of a simulator opened from a state file.
type simRun struct {
	t   *testing.T
	s   *Sim
	srv *httptest.Server
	ten Tenant
}

func openRun(t *testing.T, path string) *simRun {
	t.Helper()
	s, err := Open(path, Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	return &simRun{t: t, s: s, srv: srv, ten: s.Tenants()[0]}
}

// connect exchanges a fresh basic token of the tenant's admin, as Keyport's
// Connect does, and returns the bearer.
func (r *simRun) connect() string {
	basic, err := r.s.BasicToken(r.ten.Region, r.ten.ID, r.ten.Users[0].ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return post(r.t, r.srv.URL+"/"+r.ten.Region+"/public/user/refresh", "", `{"token":"`+basic.Reveal()+`"}`)["token"].(string)
}

func (r *simRun) create(bearer string) (id, secret string) {
	k := post(r.t, r.srv.URL+"/"+r.ten.Region+pathKeys, bearer,
		`{"userId":"`+r.ten.Users[0].ID+`","tenantId":"`+r.ten.ID+`"}`)["accessKey"].(map[string]any)
	return k["accessKeyId"].(string), k["accessKeySecret"].(string)
}

func (r *simRun) call(method, path, bearer, body string) int {
	req, _ := http.NewRequest(method, r.srv.URL+"/"+r.ten.Region+path, strings.NewReader(body))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestStateSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.json")
	first := openRun(t, path)
	bearer := first.connect()
	id, sec := first.create(bearer)
	seeded := first.ten.Keys
	if st := first.call(http.MethodPatch, pathKeys+"?accessKeyId="+seeded[0].ID, bearer, `{"isActive":false}`); st != 200 {
		t.Fatalf("deactivate: %d", st)
	}
	if st := first.call(http.MethodDelete, pathKeys+"/"+seeded[2].ID, bearer, ""); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	post(t, first.srv.URL+"/"+first.ten.Region+"/authentication/v1/token/access-key", "", `{"accessKeyId":"`+id+`","accessKeySecret":"`+sec+`"}`)
	want := first.s.Tenants()
	first.srv.Close()

	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(sec)) || bytes.Contains(b, []byte(bearer)) || bytes.Contains(b, []byte(strings.Split(bearer, ".")[2])) {
		t.Fatal("the state file holds a secret or a token")
	}

	second := openRun(t, path)
	if got := second.s.Tenants(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart the tenants differ:\n got %+v\nwant %+v", got[0], want[0])
	}
	// The first run's steps again make another key id: the id generator
	// went on from where it was, it did not start over.
	id2, _ := second.create(second.connect())
	if id2 == id {
		t.Fatal("a key made after the restart reused an id made before it")
	}
	k := second.ten.Keys
	if len(k) != 3 || k[0].Active || k[0].ID != seeded[0].ID || k[1].ID != seeded[1].ID || k[2].ID != id || k[2].LastUsed == nil {
		t.Fatalf("keys after a restart = %+v", k)
	}
	// The bearer issued before the restart still works, and the new key's
	// secret is still accepted: the signing key, the token records and the
	// secret's hash came back.
	if st := second.call(http.MethodGet, pathKeys+"/"+id, bearer, ""); st != 200 {
		t.Fatalf("old bearer after a restart: %d", st)
	}
	post(t, second.srv.URL+"/"+second.ten.Region+"/authentication/v1/token/access-key", "", `{"accessKeyId":"`+id+`","accessKeySecret":"`+sec+`"}`)
	third := openRun(t, path)
	if n := len(third.ten.Keys); n != 4 {
		t.Fatalf("keys after a second restart = %d, want 4", n)
	}
}

func TestUnreadableStateIsRefused(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if _, err := Open(good, Options{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	valid, _ := os.ReadFile(good)
	cases := []struct {
		name, content, want string
		seed                int64
	}{
		{"a truncated file", string(valid[:len(valid)/2]), "corrupt", 3},
		{"not JSON at all", "garbage\n", "corrupt", 3},
		{"another format version", strings.Replace(string(valid), `"version": 1`, `"version": 9`, 1), "format version 9", 3},
		{"a key whose hash is not one", strings.Replace(string(valid), `"secret_sha256": "`, `"secret_sha256": "zz`, 1), "corrupt: key", 3},
		{"another seed", string(valid), "made with seed 3, not 4", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path, Options{Seed: tc.seed})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move the file away") {
				t.Fatalf("Open = %v, want an error naming %s and saying %q", err, path, tc.want)
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Fatal("the unreadable file was overwritten")
			}
		})
	}
}
