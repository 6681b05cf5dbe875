package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// Every state-changing route must refuse a cross-site request. The test
// walks the router's own table, so a route added later without protection
// fails here.
func TestEveryNonGETRouteRefusesCrossSiteRequests(t *testing.T) {
	a := newTestApp(t)
	checked := 0
	for _, r := range a.App.Echo.Routes() {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, "echo_route_not_found":
			continue
		}
		path := pathParam.ReplaceAllString(strings.ReplaceAll(r.Path, "*", "x"), "TESTID")
		for _, hdr := range []map[string]string{
			{"Sec-Fetch-Site": "cross-site"},
			{"Origin": "https://evil.example"},
		} {
			req, _ := http.NewRequest(r.Method, a.URL+path, strings.NewReader("region=na1"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %v: status %d, want 403", r.Method, r.Path, hdr, res.StatusCode)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d state-changing routes found: the route walk is broken", checked)
	}
	t.Logf("checked %d state-changing routes", checked)
}
