package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

type historyEntry struct {
	Position  uint64 `json:"position"`
	Type      string `json:"type"`
	Actor     string `json:"actor"`
	CommandID string `json:"command_id"`
	Origin    struct {
		Kind             string `json:"kind"`
		Ref              string `json:"ref"`
		Detail           string `json:"detail"`
		DecidedBy        string `json:"decided_by"`
		Requester        string `json:"requester"`
		DecisionPosition uint64 `json:"decision_position"`
		PolicyVersion    uint64 `json:"policy_version"`
		Place            string `json:"place"`
		GroupName        string `json:"group_name"`
	} `json:"origin"`
}

func (w *rqWorld) history(t *testing.T, user, product, tok string) []historyEntry {
	t.Helper()
	r := w.svc.do(t, "GET", "/v1/users/"+user+"/licenses/"+product+"/history?after="+w.last, tok, nil).want(t, 200, "")
	var out []historyEntry
	if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
		t.Fatalf("history: %v in %s", err, r.raw)
	}
	return out
}

// TestHistoryEndToEnd: a license's history names each origin (a request
// and its approver, a policy's backup product and version, a group, a
// manual assignment and its unassignment), and as_of answers the products,
// the policy and a user's licenses as they stood at an earlier instant.
func TestHistoryEndToEnd(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)

	// A request, approved by lia.
	id := w.submit(t, "u1", "e5", "u2")
	r := w.svc.do(t, "POST", "/v1/requests/"+id+"/decision", w.lia, map[string]any{"approve": []string{"u1", "u2"}}).want(t, 200, "")
	w.last = r.header.Get("Seatflow-Position")
	h := w.history(t, "u2", "e5", token(t, "contoso", "u2", "user"))
	if len(h) != 2 || h[0].Type != "LicenseAssigned" || h[0].Origin.Kind != "request" || h[0].Origin.Ref != id ||
		h[0].Origin.DecidedBy != "lia" || h[0].Origin.Requester != "u1" || h[1].Type != "RequestApproved" || h[0].Actor != "lia" {
		t.Fatalf("u2's e5 history: %+v", h)
	}
	w.svc.do(t, "GET", "/v1/users/u2/licenses/e5/history", token(t, "contoso", "u1", "user"), nil).want(t, 403, "forbidden")

	// A policy with e3 (2 seats) first and e5 as its backup.
	r = w.svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "Teams", "app": "teams",
		"products": []map[string]any{{"product_id": "e3"}, {"product_id": "e5"}}}).want(t, 201, "")
	policy, created := r.body["policy_id"].(string), r.header.Get("Seatflow-Position")
	w.svc.do(t, "PUT", "/v1/settings/auto-claim", w.admin, map[string]any{"enabled": true}).want(t, 200, "")
	for _, u := range []string{"u3", "boss", "u4"} {
		w.reads.signIn(t, "s-"+u, u, time.Now())
		waitFor(t, 30*time.Second, u+"'s claim", func() bool {
			return len(w.svc.do(t, "GET", "/v1/users/"+u+"/licenses", w.admin, nil).want(t, 200, "").list) == 1
		})
	}
	h = w.history(t, "u4", "e5", w.admin)
	if len(h) != 1 || h[0].Origin.Kind != "policy" || h[0].Origin.Ref != policy || h[0].Origin.Place != "backup 1" ||
		created == "" || h[0].Origin.PolicyVersion == 0 || h[0].CommandID != "s-u4" {
		t.Fatalf("u4's e5 history: %+v (policy created at %s)", h, created)
	}

	// The state now, remembered with the instant.
	pos := h[0].Position
	w.last = jsonPos(pos)
	products := w.svc.do(t, "GET", "/v1/products?after="+w.last, w.admin, nil).want(t, 200, "").raw
	pol := w.svc.do(t, "GET", "/v1/policies/"+policy+"?after="+w.last, w.admin, nil).want(t, 200, "").raw
	u4 := w.svc.do(t, "GET", "/v1/users/u4/licenses?after="+w.last, w.admin, nil).want(t, 200, "").raw
	then := time.Now()
	time.Sleep(2 * time.Millisecond) // the stream's clock must move past then

	// Then: a group, a manual assignment taken back, u4 unassigned, more
	// licenses, the policy renamed.
	w.svc.do(t, "PUT", "/v1/groups/sales", w.admin, map[string]any{"name": "Sales", "members": []string{"u5"},
		"products": []map[string]any{{"product_id": "e5"}}}).want(t, 200, "")
	w.svc.do(t, "POST", "/v1/products/e5/assignments", w.lia, map[string]any{"user_id": "m1"}).want(t, 201, "")
	w.svc.do(t, "DELETE", "/v1/products/e5/assignments/m1", w.lia, nil).want(t, 200, "")
	w.svc.do(t, "DELETE", "/v1/products/e5/assignments/u4", w.lia, nil).want(t, 200, "")
	w.svc.do(t, "POST", "/v1/products/e5/licenses", w.lia, map[string]any{"add": 5}).want(t, 200, "")
	r = w.svc.do(t, "PATCH", "/v1/policies/"+policy, w.admin, map[string]any{"name": "Teams 2"}).want(t, 200, "")
	w.last = r.header.Get("Seatflow-Position")

	h = w.history(t, "u5", "e5", w.admin)
	if len(h) != 1 || h[0].Origin.Kind != "group" || h[0].Origin.Ref != "sales" || h[0].Origin.GroupName != "Sales" {
		t.Fatalf("u5's e5 history: %+v", h)
	}
	h = w.history(t, "m1", "e5", w.admin)
	if len(h) != 2 || h[0].Origin.Kind != "manual" || h[1].Type != "LicenseUnassigned" || h[1].Actor != "lia" {
		t.Fatalf("m1's e5 history: %+v", h)
	}
	h = w.history(t, "u4", "e5", w.admin)
	if len(h) != 2 || h[1].Type != "LicenseUnassigned" || h[1].Origin.Kind != "policy" || h[1].Origin.Place != "backup 1" {
		t.Fatalf("u4's e5 history after the unassignment: %+v", h)
	}

	// As of then, everything reads as it did then; now it does not.
	q := "?as_of=" + url.QueryEscape(then.Format(time.RFC3339Nano))
	for path, want := range map[string]string{"/v1/products": products, "/v1/policies/" + policy: pol, "/v1/users/u4/licenses": u4} {
		if got := w.svc.do(t, "GET", path+q, w.admin, nil).want(t, 200, "").raw; got != want {
			t.Errorf("%s as of then:\ngot  %s\nwant %s", path, got, want)
		}
		if now := w.svc.do(t, "GET", path+"?after="+w.last, w.admin, nil).want(t, 200, "").raw; now == want {
			t.Errorf("%s: nothing changed since then? %s", path, now)
		}
	}
	long := "?as_of=2001-01-01T00:00:00Z"
	if got := w.svc.do(t, "GET", "/v1/products"+long, w.admin, nil).want(t, 200, "").raw; got != "[]\n" {
		t.Errorf("products in 2001: %s", got)
	}
	w.svc.do(t, "GET", "/v1/policies/"+policy+long, w.admin, nil).want(t, 404, "not_found")
	w.svc.do(t, "GET", "/v1/products?as_of=tuesday", w.admin, nil).want(t, 400, "validation_failed")

	// The export is the tenant's stream, and resumes after a position.
	stream := w.reads.streamData(t, "SEATFLOW_EVENTS", "sf.evt.contoso.>", "")
	lines := exportLines(t, w, "")
	if len(lines) != len(stream) {
		t.Fatalf("export: %d lines, stream %d events", len(lines), len(stream))
	}
	for i, l := range lines {
		if l.Position != stream[i].Sequence || l.ID == "" {
			t.Fatalf("line %d: %+v, stream sequence %d", i, l, stream[i].Sequence)
		}
	}
	rest := exportLines(t, w, "?after="+jsonPos(lines[9].Position))
	if len(rest) != len(lines)-10 || rest[0].Position != lines[10].Position {
		t.Fatalf("resumed after %d: %d lines from %+v", lines[9].Position, len(rest), rest[0])
	}
	csvBody := w.svc.do(t, "GET", "/v1/history", w.admin, nil, "Accept", "text/csv").want(t, 200, "").raw
	if n := strings.Count(csvBody, "\n"); n < len(lines)+1 || !strings.HasPrefix(csvBody, "position,id,type,") {
		t.Fatalf("csv export: %d lines for %d events", n, len(lines))
	}
	w.svc.do(t, "GET", "/v1/history", w.lia, nil).want(t, 403, "forbidden")
}

type exportLine struct {
	Position uint64 `json:"position"`
	ID       string `json:"id"`
	Type     string `json:"type"`
}

func exportLines(t *testing.T, w *rqWorld, query string) []exportLine {
	t.Helper()
	raw := w.svc.do(t, "GET", "/v1/history"+query, w.admin, nil).want(t, 200, "").raw
	var out []exportLine
	for _, l := range strings.Split(strings.TrimSpace(raw), "\n") {
		var e exportLine
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

func jsonPos(p uint64) string {
	b, _ := json.Marshal(p)
	return string(b)
}
