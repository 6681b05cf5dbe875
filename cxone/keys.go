package cxone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

const pathKeys = "/access-key-management/v1/access-keys"

// AccessKey is one key as CXone lists it. It never holds a secret.
type AccessKey struct {
	ID, UserID, TenantID string
	Active               bool
	// ActiveUnknown is true when CXone sent no isActive; Active is then false.
	ActiveUnknown bool
	// LastUsed is nil when CXone sent no date or one Keyport cannot read;
	// LastUsedRaw then keeps the text (at most 64 characters).
	LastUsed           *time.Time
	LastUsedRaw        string
	AgentID, BillingID string // numeric ids as decimal text; "" when absent
}

// KeyList is the result of ListKeys.
type KeyList struct {
	Keys []AccessKey
	// PossiblyIncomplete is set when totalRecords exceeds the keys
	// collected, or paging stopped early (page cap, foreign host).
	PossiblyIncomplete bool
	TotalRecords       int64 // -1 when CXone did not say
}

// CreatedKey is a new key with its secret, which CXone returns only once.
type CreatedKey struct {
	AccessKey
	Secret secret.Secret
}

// maxPages bounds list paging (cxone-api.md §5.4).
const maxPages = 20

// CreateKey creates an access key for userID in tenantID. It is sent once
// and never retried: a timeout, dropped connection, 5xx or unparseable 2xx
// after sending is OutcomeUnknown, to be reconciled by listing.
func (c *Client) CreateKey(ctx context.Context, r Region, bearer secret.Secret, tenantID, userID string) (*CreatedKey, error) {
	const op = "create access key"
	if tenantID == "" || userID == "" {
		return nil, &Error{Kind: BadRequest, Op: op, Message: "tenant and user are required; nothing was sent"}
	}
	u, err := c.url(r, pathKeys, nil)
	if err != nil {
		return nil, err
	}
	req := request{op: op, method: http.MethodPost, region: r, rawURL: u, bearer: bearer, create: true,
		body: map[string]string{"userId": userID, "tenantId": tenantID}}
	o, resp, err := c.doJSON(ctx, req)
	if err != nil {
		return nil, err
	}
	k, err := parseCreated(o)
	if err != nil {
		return nil, shapeError(req, resp, err)
	}
	return k, nil
}

// parseCreated applies cxone-api.md §5.3: exactly one of the accessKey
// (guide) and resultSet (OAS) wrappers carries a non-empty id and secret;
// if both wrappers are present they name the same id.
func parseCreated(o object) (*CreatedKey, error) {
	var found []object
	var ids []string
	for _, name := range []string{"accessKey", "resultSet"} {
		w, ok, err := o.sub(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		id, err := w.str("accessKeyId")
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
		sec, err := w.str("accessKeySecret")
		if err != nil {
			return nil, err
		}
		if id != "" && sec != "" {
			found = append(found, w)
		}
	}
	if len(ids) == 2 && ids[0] != ids[1] {
		return nil, errors.New("accessKey and resultSet name different keys")
	}
	if len(found) == 0 {
		return nil, errors.New("no accessKey or resultSet with accessKeyId and accessKeySecret")
	}
	w := found[0]
	k, err := parseKey(w, "")
	if err != nil {
		return nil, err
	}
	sec, _ := w.str("accessKeySecret")
	if err := checkCredential("accessKeySecret", sec); err != nil {
		return nil, err
	}
	if k.ActiveUnknown { // a new key is active unless CXone says otherwise
		k.Active, k.ActiveUnknown = true, false
	}
	return &CreatedKey{AccessKey: k, Secret: secret.New(sec)}, nil
}

// parseKey reads one key object. pathID is used when the object has no
// accessKeyId (GET). accessKeySecret is never read here.
func parseKey(o object, pathID string) (AccessKey, error) {
	var k AccessKey
	var err error
	if k.ID, err = o.str("accessKeyId"); err != nil {
		return k, err
	}
	if k.ID == "" {
		k.ID = pathID
	}
	if err := checkCredential("accessKeyId", k.ID); err != nil {
		return k, err
	}
	if k.UserID, err = o.str("userId"); err != nil {
		return k, err
	}
	if k.TenantID, err = o.str("tenantId"); err != nil {
		return k, err
	}
	k.UserID, k.TenantID = Sanitize(k.UserID), Sanitize(k.TenantID)
	active, ok, err := o.bool("isActive")
	if err != nil {
		return k, err
	}
	k.Active, k.ActiveUnknown = active, !ok
	for _, f := range []struct {
		name string
		dst  *string
	}{{"agentId", &k.AgentID}, {"billingId", &k.BillingID}} {
		n, ok, err := o.int(f.name)
		if err != nil {
			return k, err
		}
		if ok {
			*f.dst = strconv.FormatInt(n, 10)
		}
	}
	k.LastUsed, k.LastUsedRaw = parseLastUsed(o["lastUsedDate"])
	k.LastUsedRaw = Sanitize(k.LastUsedRaw)
	return k, nil
}

// ListKeys lists the keys of userID, or of the whole tenant when userID is
// "" (which needs the "Access Key" privilege). It follows _links.next on
// the same host, at most 20 pages, de-duplicating by id.
func (c *Client) ListKeys(ctx context.Context, r Region, bearer secret.Secret, userID string) (*KeyList, error) {
	const op = "list access keys"
	q := url.Values{}
	if userID != "" {
		q.Set("userId", userID)
	}
	next, err := c.url(r, pathKeys, q)
	if err != nil {
		return nil, err
	}
	list := &KeyList{TotalRecords: -1}
	seenURL := map[string]bool{}
	seenKey := map[string]bool{}
	for page := 0; next != ""; page++ {
		if page == maxPages || seenURL[next] {
			list.PossiblyIncomplete = list.PossiblyIncomplete || page == maxPages
			break
		}
		seenURL[next] = true
		req := request{op: op, method: http.MethodGet, region: r, rawURL: next, bearer: bearer, idempotent: true}
		resp, err := c.do(ctx, req)
		if err != nil {
			return nil, err
		}
		keys, total, link, err := parseListPage(resp)
		if err != nil {
			return nil, shapeError(req, resp, err)
		}
		for _, k := range keys {
			if !seenKey[k.ID] {
				seenKey[k.ID] = true
				list.Keys = append(list.Keys, k)
			}
		}
		if total > list.TotalRecords {
			list.TotalRecords = total
		}
		next = ""
		if link != "" {
			ref, err := url.Parse(link)
			if err != nil {
				list.PossiblyIncomplete = true
				break
			}
			abs := resp.url.ResolveReference(ref)
			if abs.Scheme != resp.url.Scheme || abs.Host != resp.url.Host {
				c.log.Warn("cxone list: next link on another host not followed", "op", op)
				list.PossiblyIncomplete = true
				break
			}
			next = abs.String()
		}
	}
	if list.TotalRecords > int64(len(list.Keys)) {
		list.PossiblyIncomplete = true
	}
	return list, nil
}

// parseListPage reads one list page: 204 or an empty body is no keys; a
// bare array is accepted as the items.
func parseListPage(resp *response) (keys []AccessKey, total int64, next string, err error) {
	total = -1
	if resp.status == http.StatusNoContent || len(strings.TrimSpace(string(resp.body))) == 0 {
		return nil, total, "", nil
	}
	ct := strings.ToLower(resp.header.Get("Content-Type"))
	if ct != "" && !strings.Contains(ct, "json") {
		return nil, 0, "", errors.New("content type is not JSON")
	}
	var items []json.RawMessage
	if json.Unmarshal(resp.body, &items) != nil {
		o, err := decodeObject(resp.body)
		if err != nil {
			return nil, 0, "", err
		}
		if n, ok, err := o.int("totalRecords"); err != nil {
			return nil, 0, "", err
		} else if ok {
			total = n
		}
		raw, present := o["accessKeys"]
		if !present || isNull(raw) {
			if total == 0 {
				return nil, total, "", nil
			}
			return nil, 0, "", errors.New(`no "accessKeys" array`)
		}
		if json.Unmarshal(raw, &items) != nil {
			return nil, 0, "", errors.New(`field "accessKeys": not an array`)
		}
		if links, ok, err := o.sub("_links"); err != nil {
			return nil, 0, "", err
		} else if ok {
			if next, err = links.str("next"); err != nil {
				return nil, 0, "", err
			}
		}
	}
	for i, raw := range items {
		var o object
		if json.Unmarshal(raw, &o) != nil || o == nil {
			return nil, 0, "", fmt.Errorf("accessKeys[%d]: not an object", i)
		}
		k, err := parseKey(o, "")
		if err != nil {
			return nil, 0, "", fmt.Errorf("accessKeys[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	return keys, total, strings.TrimSpace(next), nil
}

// GetKey reads one key. The OAS response has no accessKeyId (it is taken
// from the path) but lists accessKeySecret, which is dropped unread.
func (c *Client) GetKey(ctx context.Context, r Region, bearer secret.Secret, keyID string) (*AccessKey, error) {
	const op = "get access key"
	if err := checkCredential("accessKeyId", keyID); err != nil {
		return nil, &Error{Kind: BadRequest, Op: op, Message: "invalid access key id: " + err.Error()}
	}
	u, err := c.url(r, pathKeys+"/"+url.PathEscape(keyID), nil)
	if err != nil {
		return nil, err
	}
	req := request{op: op, method: http.MethodGet, region: r, rawURL: u, bearer: bearer, idempotent: true}
	o, resp, err := c.doJSON(ctx, req)
	if err != nil {
		return nil, err
	}
	if w, ok, err := o.sub("resultSet"); err != nil {
		return nil, shapeError(req, resp, err)
	} else if ok {
		o = w
	}
	k, err := parseKey(o, keyID)
	if err != nil {
		return nil, shapeError(req, resp, err)
	}
	if k.ID != keyID {
		return nil, shapeError(req, resp, errors.New("response names another key"))
	}
	return &k, nil
}

// SetActive activates or deactivates a key (PATCH with the id in the
// query). Any 2xx is success; re-list to see the state. tenantID and
// userID (the key's listed owner) are sent when non-empty.
func (c *Client) SetActive(ctx context.Context, r Region, bearer secret.Secret, keyID, tenantID, userID string, active bool) error {
	op := "deactivate access key"
	if active {
		op = "activate access key"
	}
	if err := checkCredential("accessKeyId", keyID); err != nil {
		return &Error{Kind: BadRequest, Op: op, Message: "invalid access key id: " + err.Error()}
	}
	q := url.Values{"accessKeyId": {keyID}}
	if tenantID != "" {
		q.Set("tenantId", tenantID)
	}
	if userID != "" {
		q.Set("userId", userID)
	}
	u, err := c.url(r, pathKeys, q)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{op: op, method: http.MethodPatch, region: r, rawURL: u, bearer: bearer,
		idempotent: true, body: map[string]bool{"isActive": active}})
	return err
}

// DeleteKey deletes a key. Any 2xx is success. A 404 (also on a retry
// after a lost first attempt) is a NotFound error the caller may report
// as "already gone".
func (c *Client) DeleteKey(ctx context.Context, r Region, bearer secret.Secret, keyID string) error {
	const op = "delete access key"
	if err := checkCredential("accessKeyId", keyID); err != nil {
		return &Error{Kind: BadRequest, Op: op, Message: "invalid access key id: " + err.Error()}
	}
	u, err := c.url(r, pathKeys+"/"+url.PathEscape(keyID), nil)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{op: op, method: http.MethodDelete, region: r, rawURL: u, bearer: bearer, idempotent: true})
	return err
}
