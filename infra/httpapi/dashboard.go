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

// The admin dashboard: a static page that asks for a bearer token and calls
// the JSON API with it. The page itself holds no data, so it is served
// without authentication; every number it shows comes from an authenticated
// API call made by the browser.
//
//go:embed dashboard
var dashboardFS embed.FS

// dashboardCSP allows nothing but this origin: no inline script or style, no
// external fonts, scripts or frames.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dashboardAsset is one embedded file, read once at start.
type dashboardAsset struct {
	body []byte
	typ  string
	etag string
}

var dashboardAssets = loadDashboardAssets()

func loadDashboardAssets() map[string]dashboardAsset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	entries, err := fs.ReadDir(dashboardFS, "dashboard")
	if err != nil {
		panic(fmt.Sprintf("httpapi: embedded dashboard: %v", err))
	}
	out := make(map[string]dashboardAsset, len(entries))
	for _, e := range entries {
		typ, ok := types[path.Ext(e.Name())]
		if e.IsDir() || !ok {
			continue
		}
		b, err := dashboardFS.ReadFile("dashboard/" + e.Name())
		if err != nil {
			panic(fmt.Sprintf("httpapi: embedded dashboard: %v", err))
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = dashboardAsset{body: b, typ: typ, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out
}

// dashboardRoutes registers the dashboard page and its assets.
func (s *Server) dashboardRoutes() {
	s.route("GET /dashboard", http.HandlerFunc(s.dashboardFile))
	s.route("GET /dashboard/{file}", http.HandlerFunc(s.dashboardFile))
}

// dashboardFile answers /dashboard with the page and /dashboard/{file} with
// one of its assets.
func (s *Server) dashboardFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		name = "index.html"
	}
	a, ok := dashboardAssets[name]
	if !ok {
		s.writeError(w, r, fail(CodeNotFound, fmt.Sprintf("the dashboard has no file %q", name)))
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.typ)
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
