package cxonesim

// The access-key-management endpoints (cxone-api.md §5.3–5.7).

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func (s *Sim) keyJSON(k *key, v Variants, withID bool) map[string]any {
	m := map[string]any{"userId": k.UserID, "tenantId": k.TenantID, "isActive": k.Active,
		"billingId": s.num(v, k.billing)}
	if withID {
		m["accessKeyId"] = k.ID
	}
	m["agentId"] = nil
	for _, t := range s.tenants {
		if t.id == k.TenantID {
			if u := t.user(k.UserID); u != nil && u.AgentID != 0 {
				m["agentId"] = s.num(v, u.AgentID)
			}
		}
	}
	if m["agentId"] == nil && !v.NullFields {
		delete(m, "agentId")
	}
	if k.LastUsed != nil {
		lu := k.LastUsed.UTC()
		switch v.LastUsedFormat {
		case "absent":
		case "naive":
			m["lastUsedDate"] = lu.Format("2006-01-02T15:04:05")
		case "epochms":
			m["lastUsedDate"] = lu.UnixMilli()
		case "offset":
			m["lastUsedDate"] = lu.In(time.FixedZone("", -5*3600)).Format("2006-01-02T15:04:05-07:00")
		default:
			m["lastUsedDate"] = lu.Format("2006-01-02T15:04:05.000Z")
		}
	} else if v.NullFields {
		m["lastUsedDate"] = nil
	}
	if v.ExtraFields {
		m["createdDate"] = k.Created.UTC().Format(time.RFC3339)
		m["description"] = nil
	}
	return m
}

func (s *Sim) createKey(w http.ResponseWriter, r *http.Request, c *call, p principal) {
	var in struct {
		UserID   string `json:"userId"`
		TenantID string `json:"tenantId"`
	}
	if json.Unmarshal(c.body, &in) != nil || in.UserID == "" || in.TenantID == "" {
		writeError(w, r, http.StatusBadRequest, ShapeSpring, "userId and tenantId are required")
		return
	}
	if !strings.EqualFold(in.TenantID, p.t.id) {
		writeError(w, r, http.StatusForbidden, ShapeSpring, msgTenant)
		return
	}
	if !p.mayActFor(in.UserID) {
		writeError(w, r, http.StatusForbidden, ShapeSpring, msgNoPrivilege)
		return
	}
	owner := p.t.user(in.UserID)
	if owner == nil {
		writeError(w, r, http.StatusNotFound, ShapeSpring, "User not found")
		return
	}
	if lim := c.variants.KeyLimit; lim > 0 {
		n := 0
		for _, k := range p.t.keys {
			if k.UserID == owner.ID {
				n++
			}
		}
		if n >= lim {
			writeError(w, r, http.StatusBadRequest, ShapeDetails, "The user has reached the maximum number of access keys")
			return
		}
	}
	sec, hash := newSecret()
	k := &key{Key: Key{ID: s.keyID(), UserID: owner.ID, TenantID: p.t.id, Active: true, Created: s.now().UTC()},
		secretHash: hash, billing: p.t.billing}
	p.t.keys = append(p.t.keys, k)
	guide := map[string]any{"accessKeyId": k.ID, "accessKeySecret": sec, "userId": k.UserID, "tenantId": k.TenantID, "isActive": true}
	oas := s.keyJSON(k, c.variants, true)
	oas["accessKeySecret"] = sec
	var out map[string]any
	switch c.variants.CreateWrapper {
	case "resultSet":
		out = map[string]any{"resultSet": oas}
	case "both":
		out = map[string]any{"accessKey": guide, "resultSet": oas}
	default:
		out = map[string]any{"accessKey": guide}
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Sim) listKeys(w http.ResponseWriter, r *http.Request, c *call, p principal) {
	q := r.URL.Query()
	userID := q.Get("userId")
	if userID == "" {
		if !p.u.AccessKey { // tenant-wide needs "Access Key" (cxone-api.md §5.4)
			writeError(w, r, http.StatusForbidden, ShapeSpring, msgNoPrivilege)
			return
		}
	} else {
		if !p.mayActFor(userID) {
			writeError(w, r, http.StatusForbidden, ShapeSpring, msgNoPrivilege)
			return
		}
		if p.t.user(userID) == nil {
			writeError(w, r, http.StatusNotFound, ShapeSpring, "User not found")
			return
		}
	}
	var agent int64 = -1
	if a := q.Get("agentId"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, ShapeSpring, "agentId must be an integer")
			return
		}
		agent = n
	}
	var items []map[string]any
	for _, k := range p.t.keys {
		if userID != "" && !strings.EqualFold(k.UserID, userID) {
			continue
		}
		if agent >= 0 {
			if u := p.t.user(k.UserID); u == nil || u.AgentID != agent {
				continue
			}
		}
		items = append(items, s.keyJSON(k, c.variants, true))
	}
	v := c.variants
	if len(items) == 0 && v.NoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	total := len(items)
	page := 1
	next, prev := "", ""
	self := c.base + r.URL.Path
	if v.PageSize > 0 {
		size := v.PageSize
		if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
			page = n
		}
		link := func(n int) string {
			qq := url.Values{}
			if userID != "" {
				qq.Set("userId", userID)
			}
			qq.Set("page", strconv.Itoa(n))
			return self + "?" + qq.Encode()
		}
		if page*size < total {
			next = link(page + 1)
		}
		if page > 1 {
			prev = link(page - 1)
		}
		lo := min((page-1)*size, total)
		items = items[lo:min(lo+size, total)]
	}
	if items == nil {
		items = []map[string]any{}
	}
	links := map[string]any{"self": self, "next": nil, "previous": nil}
	if next != "" {
		links["next"] = next
	}
	if prev != "" {
		links["previous"] = prev
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalRecords": s.num(v, int64(total+v.TotalRecordsDelta)),
		"_links": links, "accessKeys": items})
}

// findKeyLocked returns the key id in p's tenant, answering 404 for a key
// that does not exist there (another tenant's keys are invisible) and 403
// when p may not act for its owner.
func (s *Sim) findKeyLocked(w http.ResponseWriter, r *http.Request, p principal, id string) (*key, int) {
	for i, k := range p.t.keys {
		if k.ID == id {
			if !p.mayActFor(k.UserID) {
				writeError(w, r, http.StatusForbidden, ShapeSpring, msgNoPrivilege)
				return nil, -1
			}
			return k, i
		}
	}
	writeError(w, r, http.StatusNotFound, ShapeSpring, "Access key not found")
	return nil, -1
}

func (s *Sim) getKey(w http.ResponseWriter, r *http.Request, c *call, p principal) {
	k, _ := s.findKeyLocked(w, r, p, r.PathValue("id"))
	if k == nil {
		return
	}
	m := s.keyJSON(k, c.variants, false)
	m["accessKeySecret"] = nil // listed in the OAS; never a real secret
	if c.variants.GetBare {
		writeJSON(w, http.StatusOK, m)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"resultSet": m})
}

func (s *Sim) patchKey(w http.ResponseWriter, r *http.Request, c *call, p principal) {
	q := r.URL.Query()
	id := q.Get("accessKeyId")
	if id == "" {
		writeError(w, r, http.StatusBadRequest, ShapeSpring, "accessKeyId is required")
		return
	}
	if t := q.Get("tenantId"); t != "" && !strings.EqualFold(t, p.t.id) {
		writeError(w, r, http.StatusForbidden, ShapeSpring, msgTenant)
		return
	}
	var in struct {
		IsActive *bool `json:"isActive"`
	}
	if json.Unmarshal(c.body, &in) != nil || in.IsActive == nil {
		writeError(w, r, http.StatusBadRequest, ShapeSpring, "isActive is required")
		return
	}
	k, _ := s.findKeyLocked(w, r, p, id)
	if k == nil {
		return
	}
	if u := q.Get("userId"); u != "" && !strings.EqualFold(u, k.UserID) {
		writeError(w, r, http.StatusBadRequest, ShapeSpring, "userId does not own this access key")
		return
	}
	k.Active = *in.IsActive
	if c.variants.NoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *Sim) deleteKey(w http.ResponseWriter, r *http.Request, c *call, p principal) {
	k, i := s.findKeyLocked(w, r, p, r.PathValue("id"))
	if k == nil {
		return
	}
	if k.Active && c.variants.RejectActiveDelete {
		writeError(w, r, http.StatusConflict, ShapeDetails, "Deactivate the access key before deleting it")
		return
	}
	p.t.keys = append(p.t.keys[:i:i], p.t.keys[i+1:]...)
	if c.variants.NoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// ---- discovery ----
