package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Paging of every list the API answers: ?limit=N (default DefaultPageLimit,
// at most MaxPageLimit) and ?cursor=C, where C is the Seatflow-Next-Cursor
// of the previous page. A page that is not the last carries
// Seatflow-Next-Cursor and a Link header with rel="next". The body stays a
// JSON array.
const (
	DefaultPageLimit = 500
	MaxPageLimit     = 1000
	// HeaderNextCursor carries the cursor of the next page.
	HeaderNextCursor = "Seatflow-Next-Cursor"
)

// writePage answers the page of items (in the list's order) that limit and
// cursor select; key names an item uniquely, so a cursor still finds its
// place when items were added or removed before it.
func writePage[T any](w http.ResponseWriter, r *http.Request, items []T, key func(T) string) error {
	limit, start, err := pageOf(r, len(items), func(i int) string { return key(items[i]) })
	if err != nil {
		return err
	}
	end := min(start+limit, len(items))
	if end < len(items) {
		next := encodeCursor(end, key(items[end-1]))
		w.Header().Set(HeaderNextCursor, next)
		q := r.URL.Query()
		q.Set("cursor", next)
		q.Set("limit", strconv.Itoa(limit))
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		w.Header().Set("Link", "<"+u.String()+`>; rel="next"`)
	}
	return writeJSON(w, http.StatusOK, items[start:end])
}

// pageOf reads limit and cursor: the page's size and the index it starts at.
func pageOf(r *http.Request, n int, key func(int) string) (limit, start int, err error) {
	q := r.URL.Query()
	limit = DefaultPageLimit
	if vs, ok := q["limit"]; ok {
		if len(vs) != 1 {
			return 0, 0, invalidField("limit", "must be given once")
		}
		if limit, err = strconv.Atoi(vs[0]); err != nil || limit < 1 || limit > MaxPageLimit {
			return 0, 0, invalidField("limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxPageLimit))
		}
	}
	vs, ok := q["cursor"]
	if !ok {
		return limit, 0, nil
	}
	if len(vs) != 1 {
		return 0, 0, invalidField("cursor", "must be given once")
	}
	offset, last, ok := decodeCursor(vs[0])
	if !ok {
		return 0, 0, invalidField("cursor", "is not a cursor this API gave (Seatflow-Next-Cursor)")
	}
	// Where the list did not move, the cursor's offset holds; otherwise
	// find the item it ended on.
	if offset > 0 && offset <= n && key(offset-1) == last {
		return limit, offset, nil
	}
	for i := range n {
		if key(i) == last {
			return limit, i + 1, nil
		}
	}
	return limit, min(offset, n), nil // the item is gone: resume at its place
}

func encodeCursor(offset int, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + key))
}

func decodeCursor(c string) (offset int, key string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", false
	}
	o, k, found := strings.Cut(string(b), ":")
	offset, err = strconv.Atoi(o)
	if !found || err != nil || offset < 0 {
		return 0, "", false
	}
	return offset, k, true
}
