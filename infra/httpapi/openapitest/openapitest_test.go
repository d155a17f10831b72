package openapitest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/seatflow/seatflow/infra/httpapi/openapitest"
)

// policyAnswer is a PUT /v1/policies/{id}/products answer as the server
// gives it.
const policyAnswer = `{"policy_id":"P1","name":"Chat","app":"teams","products":[{"product_id":"b","disabled_services":[]}],` +
	`"enabled":true,"queue":[{"user_id":"u2","signin_id":"s2","signed_in_at":"2025-03-01T11:00:00Z","reason":"no_seats"}],"queued":1,` +
	`"daily_cap":null,"total_cap":null,"reclaim_after_days":null,"reclaim_warn_days":null,"position":12}`

func exchange(body string, resHeader http.Header) openapitest.Exchange {
	return openapitest.Exchange{
		Method: "PUT", Path: "/v1/policies/P1/products",
		ReqHeader: http.Header{"Authorization": {"Bearer t"}, "Content-Type": {"application/json"}},
		ReqBody:   []byte(body), Status: http.StatusOK, ResHeader: resHeader, ResBody: []byte(policyAnswer),
	}
}

func commandHeaders() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Seatflow-Command-Id": {"c1"}, "Seatflow-Position": {"12"}}
}

// TestPolicyProductsBody: the document describes the body the server takes,
// {products: [...]}, and refuses the bare array it once documented.
func TestPolicyProductsBody(t *testing.T) {
	if err := openapitest.Check(exchange(`{"products":[{"product_id":"b"}]}`, commandHeaders())); err != nil {
		t.Errorf("the body the server takes: %v", err)
	}
	err := openapitest.Check(exchange(`[{"product_id":"b"}]`, commandHeaders()))
	if err == nil || !strings.Contains(err.Error(), "PUT /v1/policies/{id}/products answered 200") {
		t.Errorf("a bare array: got %v, want an error naming the route and status", err)
	}
}

// TestCommandHeaders: a command's answer without its command id or position
// does not match the document.
func TestCommandHeaders(t *testing.T) {
	for _, h := range []string{"Seatflow-Command-Id", "Seatflow-Position"} {
		hdr := commandHeaders()
		hdr.Del(h)
		if err := openapitest.Check(exchange(`{"products":[{"product_id":"b"}]}`, hdr)); err == nil || !strings.Contains(err.Error(), h) {
			t.Errorf("without %s: got %v, want an error naming it", h, err)
		}
	}
}

// TestRefusedRequests: the request of a refused exchange is not checked, its
// answer is; an unknown route answered 404 keeps the document's promise.
func TestRefusedRequests(t *testing.T) {
	problem := `{"type":"urn:seatflow:problem:invalid_json","title":"Invalid JSON","status":400,"detail":"x","code":"invalid_json"}`
	x := exchange(`[`, http.Header{"Content-Type": {"application/problem+json"}, "Seatflow-Command-Id": {"c1"}})
	x.Status, x.ResBody, x.SkipRequest = http.StatusBadRequest, []byte(problem), true
	if err := openapitest.Check(x); err != nil {
		t.Errorf("a refused malformed request: %v", err)
	}
	x.ResBody = []byte(`{"code":"invalid_json"}`)
	if err := openapitest.Check(x); err == nil {
		t.Error("an incomplete problem answer passed")
	}
	x = openapitest.Exchange{Method: "GET", Path: "/v1/nothing", Status: http.StatusNotFound,
		ResHeader: http.Header{"Content-Type": {"application/problem+json"}}, ResBody: []byte(problem)}
	if err := openapitest.Check(x); err != nil {
		t.Errorf("an unknown route answered 404: %v", err)
	}
	x.Status = http.StatusOK
	if err := openapitest.Check(x); err == nil {
		t.Error("an undocumented route answered 200 passed")
	}
}

// TestUndeclaredFields: an answer field or header the document does not
// declare fails, so a new field cannot ship undocumented.
func TestUndeclaredFields(t *testing.T) {
	x := exchange(`{"products":[{"product_id":"b"}]}`, commandHeaders())
	x.ResBody = []byte(strings.Replace(policyAnswer, `"enabled":true`, `"enabled":true,"secret":1`, 1))
	if err := openapitest.Check(x); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("an undeclared field: got %v, want an error naming it", err)
	}
	x = exchange(`{"products":[{"product_id":"b"}]}`, commandHeaders())
	x.ResHeader.Set("Seatflow-Debug", "1")
	if err := openapitest.Check(x); err == nil || !strings.Contains(err.Error(), "Seatflow-Debug") {
		t.Errorf("an undeclared header: got %v, want an error naming it", err)
	}
}
