package api

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
)

//go:embed web
var webFiles embed.FS

// WebHandler serves the web inbox: the page and its assets, embedded.
func WebHandler() http.Handler {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s is not allowed here", r.Method))
			return
		}
		if !webPaths[r.URL.Path] {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/manifest.webmanifest" {
			// Go's table has no type for it; nosniff would leave the
			// browser guessing.
			w.Header().Set("Content-Type", "application/manifest+json")
		}
		if r.URL.Path == "/sw.js" {
			// The worker's scope is the whole origin, though its script
			// is one file: the browser allows that without this header
			// only because it sits at the root.
			w.Header().Set("Service-Worker-Allowed", "/")
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// webPaths are the files WebHandler serves: the page, and what makes it
// an installable app (manifest, icons, service worker).
var webPaths = map[string]bool{
	"/": true, "/index.html": true, "/app.js": true, "/style.css": true,
	"/manifest.webmanifest": true, "/sw.js": true, "/icon.svg": true, "/icon-192.png": true, "/icon-512.png": true,
}

// openWebPaths need no session: the browser fetches a manifest and its
// icons without cookies, and none of them holds anything of a user's.
var openWebPaths = map[string]bool{
	"/style.css": true, "/manifest.webmanifest": true, "/icon.svg": true, "/icon-192.png": true, "/icon-512.png": true,
}

// openWebPath reports whether the page serves path without a session.
func openWebPath(path string) bool { return openWebPaths[path] }
