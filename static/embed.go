// Package static holds Keyport's browser assets (its own CSS and JS, and the
// vendored htmx and Pico CSS) embedded in the binary. Each file is served
// under a URL that carries a hash of its content, so it can be cached for a
// year and a new release can never be mixed with a stale copy.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed app.css app.js vendor
var files embed.FS

// Prefix is where assets are mounted.
const Prefix = "/static/"

// Assets maps asset names ("vendor/htmx.min.js") to their hashed URLs.
type Assets struct {
	urls   map[string]string // name -> /static/<hash>/<name>
	hashes map[string]string // name -> hash
}

// Load hashes every embedded file once, at start-up.
func Load() (*Assets, error) {
	a := &Assets{urls: map[string]string{}, hashes: map[string]string{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:6])
		a.hashes[p] = h
		a.urls[p] = Prefix + h + "/" + p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash static assets: %w", err)
	}
	return a, nil
}

// URL returns the hashed URL of the named asset. An unknown name is a
// programming error caught by tests, so it returns a URL that 404s rather
// than panicking in a request.
func (a *Assets) URL(name string) string {
	if u, ok := a.urls[name]; ok {
		return u
	}
	return Prefix + "missing/" + name
}

// Handler serves /static/<hash>/<name>. A hash that does not match the
// current content is a 404: a year-long cache must never hold the wrong bytes.
func (a *Assets) Handler() http.Handler {
	fileServer := http.FileServer(http.FS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, Prefix)
		hash, name, ok := strings.Cut(rest, "/")
		name = path.Clean(name)
		if !ok || a.hashes[name] == "" || a.hashes[name] != hash {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		fileServer.ServeHTTP(w, r2)
	})
}
