package cxone_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/secret"
)

// variantCheck runs against a simulator answering in one variant, with a
// bearer of the admin (userID) of tenant tenantID in na1.
type variantCheck func(t *testing.T, e *env, bearer secret.Secret, tenantID, userID string)

var responseVariantCases = []struct {
	name  string
	v     cxonesim.Variants
	check variantCheck
}{
	{"resultSet create wrapper with numbers", cxonesim.Variants{CreateWrapper: "resultSet"}, checkCreate},
	{"both create wrappers", cxonesim.Variants{CreateWrapper: "both"}, checkCreate},
	{"numbers as strings", cxonesim.Variants{NumbersAsStrings: true, CreateWrapper: "resultSet"}, checkNumbersAsStrings},
	{"null and extra fields", cxonesim.Variants{NullFields: true, ExtraFields: true}, checkNullAndExtraFields},
	{"naive lastUsedDate", cxonesim.Variants{LastUsedFormat: "naive"}, checkLastUsed},
	{"offset lastUsedDate", cxonesim.Variants{LastUsedFormat: "offset"}, checkLastUsed},
	{"epoch ms lastUsedDate", cxonesim.Variants{LastUsedFormat: "epochms", NumbersAsStrings: true}, checkLastUsed},
	{"absent lastUsedDate", cxonesim.Variants{LastUsedFormat: "absent"}, checkLastUsedAbsent},
	{"paging with _links.next", cxonesim.Variants{PageSize: 1}, checkPaging},
	{"totalRecords larger than the items", cxonesim.Variants{TotalRecordsDelta: 2}, checkTotalRecordsLarger},
	{"GET without resultSet", cxonesim.Variants{GetBare: true}, checkGetBare},
	{"204 on PATCH, DELETE and an empty list", cxonesim.Variants{NoContent: true, LastUsedFormat: "epochms"}, checkNoContent},
	{"camelCase token keys with string lifetimes", cxonesim.Variants{CamelTokenKeys: true, NumbersAsStrings: true, ExtraFields: true}, checkCamelTokenKeys},
}

func TestResponseVariants(t *testing.T) {
	for _, tc := range responseVariantCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *cxonesim.Options, _ *cxone.Config) { o.Variants = tc.v })
			ten, admin, _, _ := e.people("na1", 0)
			tok := e.login("na1", ten.ID, admin.ID)
			tc.check(t, e, tok.Access, ten.ID, admin.ID)
		})
	}
}

func checkCreate(t *testing.T, e *env, b secret.Secret, tid, uid string) {
	t.Helper()
	k, err := e.client.CreateKey(context.Background(), "na1", b, tid, uid)
	if err != nil {
		t.Fatal(err)
	}
	if !keyFormat.MatchString(k.ID) || !keyFormat.MatchString(k.Secret.Reveal()) || !k.Active || k.TenantID != tid || k.UserID != uid {
		t.Fatalf("created = %+v", k.AccessKey)
	}
}

func checkLastUsed(t *testing.T, e *env, b secret.Secret, tid, uid string) {
	t.Helper()
	ten, _ := e.sim.Tenant("na1", tid)
	list, err := e.client.ListKeys(context.Background(), "na1", b, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range list.Keys {
		want := ten.Keys[i].LastUsed
		if (want == nil) != (k.LastUsed == nil) || (want != nil && !want.Equal(*k.LastUsed)) {
			t.Errorf("key %d last used = %v (raw %q), want %v", i, k.LastUsed, k.LastUsedRaw, want)
		}
	}
}

func checkNumbersAsStrings(t *testing.T, e *env, b secret.Secret, tid, uid string) {
	checkCreate(t, e, b, tid, uid)
	list, err := e.client.ListKeys(context.Background(), "na1", b, uid)
	if err != nil || list.TotalRecords != 3 || list.Keys[0].AgentID == "" || list.Keys[0].BillingID == "" {
		t.Fatalf("list = %+v, %v", list, err)
	}
}

func checkNullAndExtraFields(t *testing.T, e *env, b secret.Secret, _, uid string) {
	list, err := e.client.ListKeys(context.Background(), "na1", b, uid)
	if err != nil {
		t.Fatal(err)
	}
	if k := list.Keys[1]; k.LastUsed != nil || k.LastUsedRaw != "" || k.Active {
		t.Errorf("never used inactive key = %+v", k)
	}
}

func checkLastUsedAbsent(t *testing.T, e *env, b secret.Secret, _, _ string) {
	list, err := e.client.ListKeys(context.Background(), "na1", b, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list.Keys {
		if k.LastUsed != nil {
			t.Errorf("key %s has last used %v, want unknown", k.ID, k.LastUsed)
		}
	}
}

func checkPaging(t *testing.T, e *env, b secret.Secret, _, _ string) {
	before := e.sim.Calls(cxonesim.EndpointList)
	list, err := e.client.ListKeys(context.Background(), "na1", b, "")
	if err != nil || len(list.Keys) != 3 || list.PossiblyIncomplete {
		t.Fatalf("paged list = %+v, %v", list, err)
	}
	if n := e.sim.Calls(cxonesim.EndpointList) - before; n != 3 {
		t.Errorf("pages fetched = %d, want 3", n)
	}
}

func checkTotalRecordsLarger(t *testing.T, e *env, b secret.Secret, _, _ string) {
	list, err := e.client.ListKeys(context.Background(), "na1", b, "")
	if err != nil || len(list.Keys) != 3 || !list.PossiblyIncomplete || list.TotalRecords != 5 {
		t.Fatalf("list = %+v, %v; want 3 keys, possibly incomplete", list, err)
	}
}

func checkGetBare(t *testing.T, e *env, b secret.Secret, tid, uid string) {
	ten, _ := e.sim.Tenant("na1", tid)
	k, err := e.client.GetKey(context.Background(), "na1", b, ten.Keys[0].ID)
	if err != nil || k.ID != ten.Keys[0].ID || k.UserID != uid || !k.Active {
		t.Fatalf("get = %+v, %v", k, err)
	}
}

func checkNoContent(t *testing.T, e *env, b secret.Secret, tid, _ string) {
	ctx := context.Background()
	ten, _ := e.sim.Tenant("na1", tid)
	for _, k := range ten.Keys {
		if err := e.client.SetActive(ctx, "na1", b, k.ID, tid, k.UserID, false); err != nil {
			t.Fatal(err)
		}
		if err := e.client.DeleteKey(ctx, "na1", b, k.ID); err != nil {
			t.Fatal(err)
		}
	}
	list, err := e.client.ListKeys(ctx, "na1", b, "")
	if err != nil || len(list.Keys) != 0 || list.PossiblyIncomplete {
		t.Fatalf("empty list = %+v, %v", list, err)
	}
}

func checkCamelTokenKeys(t *testing.T, e *env, b secret.Secret, tid, uid string) {
	ctx := context.Background()
	k, err := e.client.CreateKey(ctx, "na1", b, tid, uid)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.client.TokenFromAccessKey(ctx, "na1", k.ID, k.Secret)
	if err != nil || tok.ID.IsZero() || tok.Refresh.IsZero() || tok.AccessExpires.Sub(e.clock.Now()) != time.Hour {
		t.Fatalf("camel tokens = %+v, %v", tok, err)
	}
}

func TestErrorShapes(t *testing.T) {
	e := newEnv(t)
	ten, admin, _, _ := e.people("na1", 0)
	tok := e.login("na1", ten.ID, admin.ID)
	cases := []struct {
		shape  cxonesim.Shape
		status int
		kind   cxone.ErrorKind
		msg    string
	}{
		{cxonesim.ShapeOAuth, 400, cxone.BadRequest, "Simulated oauth error"},
		{cxonesim.ShapeOAuthCamel, 401, cxone.Unauthorized, "Simulated oauth_camel error"},
		{cxonesim.ShapeSpring, 403, cxone.Forbidden, "Simulated spring error"},
		{cxonesim.ShapeDetails, 404, cxone.NotFound, "Simulated details error"},
		{cxonesim.ShapeErrorsObj, 409, cxone.Conflict, "userId: Simulated errors_obj error"},
		{cxonesim.ShapeMessage, 422, cxone.BadRequest, "Simulated message error"},
		{cxonesim.ShapeMsg, 400, cxone.BadRequest, "Simulated msg error"},
		{cxonesim.ShapeDetailed, 400, cxone.BadRequest, "Simulated detailed error"},
		{cxonesim.ShapeHeaderOnly, 403, cxone.Forbidden, "Simulated header_only error"},
		{cxonesim.ShapeEmpty, 404, cxone.NotFound, "Not Found"},
		{cxonesim.ShapeEmpty, 418, cxone.UnexpectedResponse, "I'm a teapot"},
	}
	for _, tc := range cases {
		t.Run(string(tc.shape), func(t *testing.T) {
			e.sim.Inject(cxonesim.Fault{Endpoint: cxonesim.EndpointList, Mode: cxonesim.ErrorShape, Shape: tc.shape, Status: tc.status})
			before := e.sim.Calls(cxonesim.EndpointList)
			_, err := e.client.ListKeys(context.Background(), "na1", tok.Access, admin.ID)
			ce := kindOf(t, err, tc.kind)
			if ce.Status != tc.status || ce.Message != tc.msg || ce.Attempts != 1 {
				t.Errorf("error = status %d message %q attempts %d; want %d %q 1", ce.Status, ce.Message, ce.Attempts, tc.status, tc.msg)
			}
			if n := e.sim.Calls(cxonesim.EndpointList) - before; n != 1 {
				t.Errorf("calls = %d, want 1 (4xx is not retried)", n)
			}
		})
	}
}
