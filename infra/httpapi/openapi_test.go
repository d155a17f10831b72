package httpapi_test

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
)

// Stubs that satisfy the optional features' interfaces. They are never
// called: the test only lists the routes a fully configured server has.
type (
	stubAutoClaimCommands struct{ httpapi.AutoClaimCommands }
	stubPolicyQueries     struct{ httpapi.PolicyQueries }
	stubClaimQueries      struct{ httpapi.ClaimQueries }
	stubSignIns           struct{ httpapi.SignIns }
	stubRequestCommands   struct{ httpapi.RequestCommands }
	stubRequestQueries    struct{ httpapi.RequestQueries }
	stubDirectoryQueries  struct{ httpapi.DirectoryQueries }
	stubSCIMCommands      struct{ httpapi.SCIMCommands }
	stubSCIMDirectory     struct{ httpapi.SCIMDirectory }
	stubCommands          struct{ httpapi.Commands }
	stubProducts          struct{ httpapi.ProductQueries }
	stubLicenses          struct{ httpapi.LicenseQueries }
	stubProgress          struct{ httpapi.Progress }
	stubHistory           struct{ httpapi.HistoryQueries }
	stubExporter          struct{ httpapi.Exporter }
	stubClaimCounts       struct{ httpapi.ClaimCounts }
	stubQueueCounts       struct{ httpapi.QueueCounts }
	stubSimulator         struct{ httpapi.Simulator }
	stubIdentityCommands  struct{ httpapi.IdentityCommands }
	stubIdentityHooks     struct{ httpapi.IdentityHooks }
	stubSignIn            struct{ httpapi.SignIn }
)

// documented reads docs/openapi.yaml's operations as "METHOD /path".
func documented(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("docs/openapi.yaml: openapi %q, want 3.x", spec.OpenAPI)
	}
	var out []string
	for path, ops := range spec.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			if m, ok := op.(map[string]any); !ok || m["responses"] == nil {
				t.Errorf("docs/openapi.yaml: %s %s documents no responses", method, path)
			}
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIMatchesRoutes: every route the server registers is in
// docs/openapi.yaml and every documented operation is a registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	iss, err := auth.NewIssuer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpapi.New(httpapi.Config{
		Commands: stubCommands{}, Products: stubProducts{}, Licenses: stubLicenses{}, Progress: stubProgress{},
		Tokens: iss, NewID: func() string { return "id" }, Metrics: http.NotFoundHandler(),
		AutoClaim: &httpapi.AutoClaimConfig{Commands: stubAutoClaimCommands{}, Policies: stubPolicyQueries{},
			Claims: stubClaimQueries{}, SignIns: stubSignIns{}},
		Requests: &httpapi.RequestsConfig{Commands: stubRequestCommands{}, Requests: stubRequestQueries{},
			Directory: stubDirectoryQueries{}},
		History: &httpapi.HistoryConfig{Licenses: stubHistory{}, Export: stubExporter{}, Foresight: &httpapi.ForesightConfig{
			Claims: stubClaimCounts{}, Queues: stubQueueCounts{}, Simulate: stubSimulator{}}},
		SCIM:     &httpapi.SCIMConfig{Commands: stubSCIMCommands{}, Directory: stubSCIMDirectory{}},
		Identity: &httpapi.IdentityConfig{Commands: stubIdentityCommands{}, Hooks: stubIdentityHooks{}},
		Console:  &httpapi.ConsoleConfig{SignIn: stubSignIn{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	registered := srv.Routes()
	slices.Sort(registered)
	docs := documented(t)
	for _, r := range registered {
		if !slices.Contains(docs, r) {
			t.Errorf("route %q is registered but not in docs/openapi.yaml", r)
		}
	}
	for _, d := range docs {
		if !slices.Contains(registered, d) {
			t.Errorf("docs/openapi.yaml documents %q, which the server does not register", d)
		}
	}
	if len(registered) < 30 {
		t.Fatalf("only %d routes registered; is a feature missing from the test's config?", len(registered))
	}
}
