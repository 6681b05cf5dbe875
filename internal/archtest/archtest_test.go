// Package archtest checks the code base's shape: which package may import
// which (docs/architecture.md), and the size limits that keep each file
// and function readable at once. It has no code of its own, only tests, so
// the rules cannot drift from the code without `make test` failing.
package archtest

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/keyport/keyport"

type pkg struct {
	ImportPath string
	Imports    []string // direct, non-test imports
}

// listPackages runs `go list` over the module: the packages and their
// direct imports, without test files.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func local(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rest, ok := strings.CutPrefix(path, module+"/")
	return rest, ok
}

// rule says what a package (by its path in the module, prefix match with
// "/...") may import of Keyport. Third-party imports are checked only where
// listed in banned.
type rule struct {
	pkg    string
	allow  []string // Keyport packages it may import; "kp" etc. leaves are always allowed
	banned []string // non-Keyport imports it must not have
}

// leaves may be imported by anyone and import nothing of Keyport.
var leaves = []string{"internal/kp", "internal/input", "internal/secret", "internal/csvsafe"}

var httpLibs = []string{"net/http", "github.com/labstack/echo/v4", "github.com/a-h/templ", "github.com/gorilla/sessions"}

var rules = []rule{
	{pkg: "cmd/...", allow: []string{"*"}},
	{pkg: "internal/app", allow: []string{"*"}},
	{pkg: "handlers", allow: []string{"web", "static", "internal/..."}, banned: []string{module + "/db", module + "/cxone/cxonesim"}},
	{pkg: "web", allow: []string{}},
	{pkg: "db", allow: []string{"migrations"}},
	{pkg: "cxone", allow: []string{}},
	{pkg: "cxone/cxonesim", allow: []string{"cxone"}},
	{pkg: "migrations", allow: []string{}},
	{pkg: "static", allow: []string{}},
	{pkg: "internal/pglocal", allow: []string{}},
	{pkg: "internal/pgtest", allow: []string{"db", "migrations", "internal/pglocal"}},
	{pkg: "internal/browsertest", allow: []string{}},
	{pkg: "internal/auditsink/sinktest", allow: []string{"internal/audit"}},
	{pkg: "internal/notify/notifytest", allow: []string{"internal/notify"}},
	{pkg: "internal/config", allow: []string{"cxone", "internal/keyring"}},
	{pkg: "internal/keyring", allow: []string{}},
	{pkg: "internal/logging", allow: []string{}},
	{pkg: "internal/metrics", allow: []string{}},
	{pkg: "internal/seal", allow: []string{"internal/keyring"}},
	// Domain services: no HTTP, no HTML, no router.
	{pkg: "internal/audit", allow: []string{"db", "internal/logging", "internal/seal", "internal/keyring"}, banned: httpLibs},
	{pkg: "internal/session", allow: []string{"db", "internal/seal", "internal/keyring"}, banned: []string{"github.com/labstack/echo/v4", "github.com/a-h/templ"}},
	{pkg: "internal/connection", allow: []string{"db", "cxone", "internal/audit", "internal/seal", "internal/keyring", "internal/logging"}, banned: httpLibs},
	{pkg: "internal/keys", allow: []string{"db", "cxone", "internal/audit", "internal/connection", "internal/logging", "internal/notescache", "internal/policy"}, banned: httpLibs},
	// The keys page's notes cache: the notes' query and LISTEN, nothing else.
	{pkg: "internal/notescache", allow: []string{"db"}, banned: httpLibs},
	// Key policies (issue 25): the rules, the create checks and the violations' sync.
	{pkg: "internal/policy", allow: []string{"db", "internal/audit"}, banned: httpLibs},
	{pkg: "internal/ratelimit", allow: []string{"db"}, banned: httpLibs},
	{pkg: "internal/reviewer", allow: []string{"db", "internal/audit", "internal/seal", "internal/keyring", "internal/logging"}, banned: httpLibs},
	// Key rotation's tools (keyport rekey, keys status): the sealed columns and the checkpoints.
	{pkg: "internal/rekey", allow: []string{"db", "internal/audit", "internal/keyring", "internal/reviewer", "internal/seal"}, banned: httpLibs},
	// Audit sinks send the trail out (an HTTPS collector is an HTTP client),
	// but serve nothing: no router, no pages, no sessions.
	{pkg: "internal/auditsink", allow: []string{"db", "internal/audit"},
		banned: []string{"github.com/labstack/echo/v4", "github.com/a-h/templ", "github.com/gorilla/sessions"}},
	// Notifications (issue 25) ride the sinks' delivery; HTTP and SMTP clients only.
	{pkg: "internal/notify", allow: []string{"internal/audit", "internal/auditsink"},
		banned: []string{"github.com/labstack/echo/v4", "github.com/a-h/templ", "github.com/gorilla/sessions", module + "/db"}},
	// The OIDC protocol (an HTTP client of the provider, so net/http; no server side).
	{pkg: "internal/oidc", allow: []string{}, banned: []string{"github.com/labstack/echo/v4", "github.com/a-h/templ", "github.com/gorilla/sessions", module + "/db"}},
	// Tests' in-process OpenID provider (zitadel): nothing of Keyport.
	{pkg: "internal/oidctest", allow: []string{}},
	// Tools run by make (scripts/benchtable): standalone programs importing no Keyport package.
	{pkg: "scripts/...", allow: []string{}},
	// make compose-test's checks: the Docker CLI and HTTP, no Keyport package.
	{pkg: "deploy/...", allow: []string{}},
}

func matches(pattern, p string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return pattern == "*" || pattern == p
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 15 {
		t.Fatalf("go list found %d packages: the walk is broken", len(pkgs))
	}
	for _, p := range pkgs {
		self, _ := local(p.ImportPath)
		if self == "internal/archtest" {
			continue
		}
		var r *rule
		for i := range rules {
			if matches(rules[i].pkg, self) {
				r = &rules[i]
				break
			}
		}
		isLeaf := false
		for _, l := range leaves {
			isLeaf = isLeaf || l == self
		}
		if r == nil && !isLeaf {
			t.Errorf("package %s has no import rule: add it to rules here and to docs/architecture.md", self)
			continue
		}
		for _, imp := range p.Imports {
			dep, ours := local(imp)
			if !ours {
				if r != nil {
					for _, b := range r.banned {
						if imp == b {
							t.Errorf("%s imports %s", self, imp)
						}
					}
				}
				continue
			}
			if isLeaf {
				t.Errorf("leaf package %s imports %s: leaves import nothing of Keyport", self, dep)
				continue
			}
			ok := false
			for _, l := range leaves {
				ok = ok || l == dep
			}
			for _, a := range r.allow {
				ok = ok || matches(a, dep)
			}
			for _, b := range r.banned {
				if imp == b {
					ok = false
				}
			}
			if !ok {
				t.Errorf("%s imports %s, which docs/architecture.md does not allow", self, dep)
			}
		}
	}
	for _, p := range pkgs {
		self, _ := local(p.ImportPath)
		for _, imp := range p.Imports {
			dep, _ := local(imp)
			if (dep == "cxone/cxonesim" && !strings.HasPrefix(self, "cmd/")) || dep == "internal/app" && !strings.HasPrefix(self, "cmd/") {
				t.Errorf("%s imports %s: only cmd/ (and tests) may", self, dep)
			}
		}
	}
}

const (
	maxFileLines = 500
	maxFuncLines = 80
)

// TestSizeLimits: no hand-written Go file over 500 lines, and no function
// over 80 outside generated code (*_templ.go) and the CXone simulator.
func TestSizeLimits(t *testing.T) {
	dir := root(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_templ.go") {
			return nil
		}
		files++
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if n := bytes.Count(src, []byte("\n")); n > maxFileLines {
			t.Errorf("%s: %d lines (limit %d)", rel, n, maxFileLines)
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "cxone/cxonesim/") {
			return nil // the simulator's functions mirror the contract's shapes; its files obey the file limit above
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var body *ast.BlockStmt
			name := ""
			switch fn := n.(type) {
			case *ast.FuncDecl:
				body, name = fn.Body, fn.Name.Name
			case *ast.FuncLit:
				body, name = fn.Body, "func literal"
			}
			if body != nil {
				lines := fset.Position(body.End()).Line - fset.Position(body.Pos()).Line + 1
				if lines > maxFuncLines {
					t.Errorf("%s:%d: %s is %d lines (limit %d)", rel, fset.Position(body.Pos()).Line, name, lines, maxFuncLines)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d Go files found: the walk is broken", files)
	}
}
