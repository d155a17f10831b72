package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzRequestsAPI throws arbitrary bodies at every directory and request
// command. Whatever comes in, the answer is a known status, a 4xx is a
// well-formed problem, a 2xx is JSON, and nothing is ever a 5xx (a panic in
// a decider would be one).
func FuzzRequestsAPI(f *testing.F) {
	routes := []struct{ method, path string }{
		{"PUT", "/v1/users/carl"},
		{"PUT", "/v1/groups/g1"},
		{"PUT", "/v1/settings/request-process"},
		{"POST", "/v1/requests"},
		{"POST", "/v1/requests/r1/decision"},
		{"POST", "/v1/requests/r1/share"},
	}
	seeds := []string{
		`{"email":"carl@example.com","display_name":"Carl","roles":["user-admin"]}`, `{"email":"x","display_name":""}`,
		`{"name":"Sales","members":["ann","bob"],"products":[{"product_id":"e5","disabled_services":["mail"]}]}`,
		`{"name":"Sales","members":["ann","ann"],"products":[{"product_id":"nope"}]}`, `{"name":"G","products":[{}]}`,
		`{"mode":"own","message":"portal","link":"https://x.example"}`, `{"mode":"builtin"}`, `{"mode":"own"}`,
		`{"product_id":"e5","users":["bob"],"justification":"x"}`, `{"product_id":"e5","users":["zed"]}`,
		`{"approve":["ann","bob"],"product_id":"e5","disabled_services":["mail"],"message":"ok"}`,
		`{"approve":["ann"],"reject":["bob"],"group_id":"g1"}`, `{"reject":["ann","bob"]}`, `{"approve":["ann","ann","bob"]}`,
		`{"recipients":["bob@example.com"],"subject":"s","message":"m"}`, `{"recipients":["nobody@example.com"]}`,
		``, `null`, `[]`, `{}`, `{"a":1}`, "\xff", `{"approve":[1]}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		e, _ := requestEnv(t)
		e.do("POST", "/v1/requests", e.token("ann", "user"), `{"product_id":"e5","users":["bob"]}`, "Idempotency-Key", "r").mustStatus(t, http.StatusCreated)
		rt := routes[int(route)%len(routes)]
		path := rt.path
		if rt.path != "/v1/requests" && len(path) > len("/v1/requests/r1") && path[:len("/v1/requests/r1")] == "/v1/requests/r1" {
			// The request's id is derived from its Idempotency-Key.
			var list []map[string]any
			_ = json.Unmarshal(e.do("GET", "/v1/requests", e.admin(), "").body, &list)
			if len(list) == 1 {
				path = "/v1/requests/" + list[0]["request_id"].(string) + path[len("/v1/requests/r1"):]
			}
		}
		res := e.do(rt.method, path, e.admin(), string(body))
		switch res.status {
		case http.StatusOK, http.StatusCreated:
			if !json.Valid(res.body) || res.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d with body %q", res.status, res.body)
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge:
			if _, err := parseProblem(res); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s %s with body %q answered %d: %s", rt.method, path, body, res.status, res.body)
		}
	})
}
