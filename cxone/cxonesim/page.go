package cxonesim

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
)

// The Generate Key page stands in for CXone's Support → Downloads →
// Generate Key. It works without JavaScript (the token is in a read-only
// textarea); copy.js, served from the simulator so a strict CSP can apply,
// only adds the Copy to Clipboard button and narrows the user list to the
// chosen tenant.
var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Generate Key · CXone simulator · {{.Region}}</title>
<script src="/sim/static/copy.js" defer></script>
</head>
<body>
<h1>Generate Key <small>(CXone simulator, area {{.Region}})</small></h1>
{{if .Error}}<p role="alert" data-testid="error">{{.Error}}</p>{{end}}
<form method="post" action="/{{.Region}}/generate-key" data-testid="generate-key-form">
<p><label for="tenant">Tenant</label>
<select id="tenant" name="tenant" data-testid="tenant">
{{range .Tenants}}<option value="{{.ID}}"{{if eq .ID $.TenantID}} selected{{end}}>{{.Name}} ({{.ID}})</option>
{{end}}</select></p>
<p><label for="user">User</label>
<select id="user" name="user" data-testid="user">
{{range .Tenants}}{{$t := .}}<optgroup label="{{.Name}}" data-tenant="{{.ID}}">{{range .Users}}<option value="{{$t.ID}}/{{.ID}}"{{if and (eq $t.ID $.TenantID) (eq .ID $.UserID)}} selected{{end}}>{{.Name}} &lt;{{.Email}}&gt;{{if .AccessKey}} · Access Key{{end}}{{if .MyAccessKey}} · My Access Key{{end}} ({{.ID}})</option>
{{end}}</optgroup>
{{end}}</select></p>
<p><small>Only users of the chosen tenant can generate its key; the list shows them (without JavaScript, pick one under the tenant's heading).</small></p>
<p><button type="submit" data-testid="generate">Generate</button></p>
</form>
{{if .Token}}
<h2>Basic authorization token</h2>
<p>Tenant <code data-testid="tenant-id">{{.TenantID}}</code>, user <code data-testid="user-id">{{.UserID}}</code>. Exchange it at
<code>POST {{.Base}}/{{.Region}}/public/user/refresh</code>.</p>
<textarea id="basic-token" data-testid="basic-token" readonly rows="6" cols="100">{{.Token}}</textarea>
<p><button type="button" data-testid="copy-basic-token" data-copy-target="basic-token" hidden>Copy to Clipboard</button>
<span data-testid="copy-status" aria-live="polite"></span></p>
{{end}}
</body>
</html>
`))

type pageData struct {
	Region, Base, Error string
	Tenants             []Tenant
	TenantID, UserID    string
	Token               string
}

func (s *Sim) generateKeyPage(w http.ResponseWriter, r *http.Request) {
	region := r.PathValue("region")
	if !s.knownRegion(region) {
		http.NotFound(w, r)
		return
	}
	d := pageData{Region: region, Base: s.baseURL(requestBase(r))}
	for _, t := range s.Tenants() {
		if t.Region == region {
			d.Tenants = append(d.Tenants, t)
		}
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		_ = r.ParseForm()
		var msg string
		d.TenantID, d.UserID, msg = pickUser(d.Tenants, r.PostForm.Get("tenant"), r.PostForm.Get("user"))
		if msg != "" {
			status, d.Error = http.StatusUnprocessableEntity, msg
		} else if tok, err := s.BasicToken(region, d.TenantID, d.UserID); err != nil {
			status, d.Error = http.StatusUnprocessableEntity, "Pick a user of the chosen tenant."
		} else {
			d.Token = tok.Reveal() // shown once, on purpose: this page's whole job
			s.log.Info("cxonesim basic token issued", "region", region)
		}
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pickUser reads the form: the user select carries "tenant/user", so a
// script-less client may send it alone; when the tenant select is sent
// too, a user of another tenant is refused rather than silently winning
// over the tenant chosen.
func pickUser(tenants []Tenant, tenantID, choice string) (tenant, user, problem string) {
	tenant, user, ok := strings.Cut(choice, "/")
	if !ok {
		tenant, user = tenantID, choice
	}
	if tenantID == "" || tenantID == tenant {
		return tenant, user, ""
	}
	name := func(id string) string {
		for _, t := range tenants {
			if t.ID == id {
				return t.Name
			}
		}
		return "another tenant"
	}
	userName := "That user"
	for _, t := range tenants {
		for _, u := range t.Users {
			if t.ID == tenant && u.ID == user {
				userName = u.Name
			}
		}
	}
	return tenantID, user, userName + " is a user of " + name(tenant) + ", not of " + name(tenantID) +
		". Pick a user of the chosen tenant, or choose " + name(tenant) + " as the tenant."
}

const copyJS = `// Copy-to-clipboard for the CXone simulator's Generate Key page.
document.addEventListener("DOMContentLoaded", function () {
  // Offer only the chosen tenant's users; the server refuses a mismatch
  // anyway (422), this only saves the round trip.
  var tenant = document.querySelector("select[name=tenant]");
  var user = document.querySelector("select[name=user]");
  if (tenant && user) {
    var filter = function () {
      var first = null;
      user.querySelectorAll("optgroup").forEach(function (g) {
        var mine = g.getAttribute("data-tenant") === tenant.value;
        g.hidden = !mine;
        g.querySelectorAll("option").forEach(function (o) {
          o.hidden = !mine;
          if (mine && !first) { first = o; }
        });
      });
      var sel = user.options[user.selectedIndex];
      if (first && (!sel || sel.hidden)) { first.selected = true; }
    };
    tenant.addEventListener("change", filter);
    filter();
  }
  document.querySelectorAll("[data-copy-target]").forEach(function (btn) {
    var target = document.getElementById(btn.getAttribute("data-copy-target"));
    var status = document.querySelector("[data-testid=copy-status]");
    if (!target) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var done = function () { if (status) { status.textContent = "Copied."; } };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(target.value).then(done, function () {
          target.select(); document.execCommand("copy"); done();
        });
      } else {
        target.select(); document.execCommand("copy"); done();
      }
    });
  });
});
`

func serveCopyJS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(copyJS))
}

var indexTmpl = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>CXone simulator</title></head>
<body><h1>CXone simulator</h1>
<p>URL template: <code data-testid="url-template">{{.Template}}</code> · JWKS: <code data-testid="jwks-url">{{.JWKS}}</code></p>
<ul>{{range .Regions}}<li><a href="/{{.}}/generate-key" data-testid="generate-key-link">Generate Key ({{.}})</a></li>{{end}}</ul>
</body></html>
`))

func (s *Sim) indexPage(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(requestBase(r))
	var buf bytes.Buffer
	_ = indexTmpl.Execute(&buf, map[string]any{"Template": base + "/{region}", "JWKS": base + "/auth/jwks", "Regions": s.regions})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	_, _ = w.Write(buf.Bytes())
}
