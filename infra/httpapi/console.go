package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// The web console: static pages (plain HTML, CSS and ES modules, no build
// step) that call the public JSON API like any other client. The console
// asks for a bearer token and keeps it in the tab's session storage, or,
// with organisation sign-in (session.go), uses the session cookie; the
// shared-request page uses the share link's token instead. The pages
// themselves hold no data, so they are served without authentication.
//
//go:embed console
var consoleFS embed.FS

// consoleCSP allows nothing but this origin: no inline script or style, no
// external fonts, scripts or frames, no form posts (the pages submit with
// fetch).
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// consoleAsset is one embedded file, read once at start.
type consoleAsset struct {
	body []byte
	typ  string
	etag string
}

var consoleAssets = loadConsoleAssets()

func loadConsoleAssets() map[string]consoleAsset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	entries, err := fs.ReadDir(consoleFS, "console")
	if err != nil {
		panic(fmt.Sprintf("httpapi: embedded console: %v", err))
	}
	out := make(map[string]consoleAsset, len(entries))
	for _, e := range entries {
		typ, ok := types[path.Ext(e.Name())]
		if e.IsDir() || !ok {
			continue
		}
		b, err := consoleFS.ReadFile("console/" + e.Name())
		if err != nil {
			panic(fmt.Sprintf("httpapi: embedded console: %v", err))
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = consoleAsset{body: b, typ: typ, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out
}

// consoleRoutes registers the console, its assets, the shared-request page
// and the redirects to the console.
func (s *Server) consoleRoutes() {
	toConsole := http.RedirectHandler("/console", http.StatusFound)
	s.route("GET /{$}", toConsole)
	// /dashboard was the read-only overview the console replaces.
	s.route("GET /dashboard", toConsole)
	s.route("GET /console", s.consolePage("index.html"))
	s.route("GET /console/{file}", http.HandlerFunc(s.consoleFile))
	s.route("GET /shared/{token}", s.consolePage("shared.html"))
}

// consolePage answers with one page of the console.
func (s *Server) consolePage(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveAsset(w, r, name) })
}

// consoleFile answers /console/{file} with one of the console's assets.
func (s *Server) consoleFile(w http.ResponseWriter, r *http.Request) {
	s.serveAsset(w, r, r.PathValue("file"))
}

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := consoleAssets[name]
	if !ok {
		s.writeError(w, r, fail(CodeNotFound, fmt.Sprintf("the console has no file %q", name)))
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.typ)
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
