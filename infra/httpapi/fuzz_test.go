package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzProductsAPI throws arbitrary bodies (and a few header values) at every
// command endpoint. Whatever comes in, the answer is a known status, a 4xx is
// a well-formed problem, a 2xx is JSON, and nothing is ever a 5xx.
func FuzzProductsAPI(f *testing.F) {
	routes := []struct{ method, path string }{
		{"POST", "/v1/products"},
		{"POST", "/v1/products/p1/licenses"},
		{"PUT", "/v1/products/p1/self-service"},
		{"POST", "/v1/products/p1/assignments"},
		{"DELETE", "/v1/products/p1/assignments/bob"},
	}
	seeds := []string{
		`{"product_id":"p2","name":"Visio","services":["draw"],"licenses":2,"self_service":"allowed"}`,
		`{"product_id":"p1","name":"Dup","licenses":1,"self_service":"blocked"}`,
		`{"add":3}`, `{"remove":1}`, `{"add":1,"remove":1}`, `{"add":-1}`, `{"add":9999999999}`,
		`{"self_service":"blocked"}`, `{"self_service":null}`,
		`{"user_id":"bob"}`, `{"user_id":"carol","disabled_services":["excel"]}`, `{"user_id":"x","disabled_services":["nope"]}`,
		``, `null`, `[]`, `{}`, `{"add":1}{}`, `{"add":"1"}`, `{"a\u0000":1}`, "\xff\xfe", `{"add":1e309}`,
		`{"product_id":"p3","name":"` + "\u2028" + `","licenses":0,"self_service":"allowed","services":[""]}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s), "")
		f.Add(uint8(i+1), []byte(s), "key-1")
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, key string) {
		// A fresh API per input keeps the target deterministic: an input
		// always takes the same path, so failures reproduce from it alone.
		e := newEnv(t)
		e.seed("p1", 2)
		e.do("POST", "/v1/products/p1/assignments", e.admin(), `{"user_id":"bob"}`).mustStatus(t, http.StatusCreated)
		admin := e.admin()
		rt := routes[int(route)%len(routes)]
		var headers []string
		if key != "" {
			headers = []string{"Idempotency-Key", key}
		}
		res := e.do(rt.method, rt.path, admin, string(body), headers...)
		switch res.status {
		case http.StatusOK, http.StatusCreated:
			if !json.Valid(res.body) || res.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d with body %q", res.status, res.body)
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge:
			p, err := parseProblem(res)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != res.status {
				t.Fatalf("problem status %d on a %d answer", p.Status, res.status)
			}
		default:
			t.Fatalf("%s %s with body %q answered %d: %s", rt.method, rt.path, body, res.status, res.body)
		}
	})
}
