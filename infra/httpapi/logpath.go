package httpapi

import (
	"net/http"
	"strings"
)

// sharedSegment is the path segment after which a share link's token
// follows: /shared/{token} (the page) and /v1/shared/{token} (the API).
const sharedSegment = "/shared/"

// logPath is r's path as logs may show it. A share link's token is a
// credential (whoever holds it answers the request), so everything after
// /shared/ is replaced by {token}, whatever the method, the route matched
// or the spelling of the path (a doubled slash still reaches the redirect
// to the clean path, so it is redacted too).
func logPath(r *http.Request) string {
	return redactPath(r.URL.Path)
}

func redactPath(p string) string {
	i := strings.Index(strings.ToLower(p), sharedSegment)
	if i < 0 {
		return p
	}
	return p[:i+len(sharedSegment)] + "{token}"
}
