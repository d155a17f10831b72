package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/seatflow/seatflow/infra/natsauth"
)

const root = "../.."

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithName("seatflow"),
		cli.WithEnv([]string{"SEATFLOW_TOKEN_SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose file does not load: %v", err)
	}
	return p
}

func TestComposeLoadsAndReferencesExistingFiles(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"nats-1", "nats-2", "nats-3", "seatflow-1", "seatflow-2", "mailpit", "prometheus", "grafana"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
	}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s mounts %s, which does not exist", s.Name, v.Source)
			}
		}
		if s.Build != nil {
			df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
			if _, err := os.Stat(df); err != nil {
				t.Errorf("service %s builds from %s, which does not exist", s.Name, df)
			}
		}
	}
}

// TestComposeNeedsATokenSecret: both instances must share a secret, so the
// file refuses to load without one instead of starting with different ones.
func TestComposeNeedsATokenSecret(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("seatflow"), cli.WithEnv([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "SEATFLOW_TOKEN_SECRET") {
		t.Fatalf("got %v, want an error naming SEATFLOW_TOKEN_SECRET", err)
	}
}

// TestNATSConfigsFormOneCluster parses each node's config with nats-server's
// own parser and checks they form one JetStream cluster whose routes name
// exactly the compose services running NATS.
func TestNATSConfigsFormOneCluster(t *testing.T) {
	p := loadCompose(t)
	var natsServices []string
	for _, s := range p.Services {
		if strings.HasPrefix(s.Image, "nats:") {
			natsServices = append(natsServices, s.Name)
		}
	}
	slices.Sort(natsServices)
	if len(natsServices) != 3 {
		t.Fatalf("NATS services: got %v, want 3", natsServices)
	}
	names := map[string]bool{}
	for _, svc := range natsServices {
		s, _ := p.GetService(svc)
		var conf string
		for _, v := range s.Volumes {
			if v.Target == "/etc/nats/nats.conf" {
				conf = v.Source
			}
		}
		if conf == "" {
			t.Fatalf("%s mounts no /etc/nats/nats.conf", svc)
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Source == "nats-auth" && v.Target == "/etc/nats/auth" }) {
			t.Fatalf("%s does not mount the nats-auth volume at /etc/nats/auth", svc)
		}
		o, err := server.ProcessConfigFile(withAuth(t, conf))
		if err != nil {
			t.Fatalf("%s: %v", conf, err)
		}
		if len(o.TrustedOperators) != 1 || o.SystemAccount == "" || o.AccountResolver == nil {
			t.Errorf("%s: not in operator mode (operators %d, system account %q): anonymous clients would be let in", conf, len(o.TrustedOperators), o.SystemAccount)
		}
		if o.NoAuthUser != "" {
			t.Errorf("%s: no_auth_user %q lets clients in without credentials", conf, o.NoAuthUser)
		}
		if !o.JetStream {
			t.Errorf("%s: JetStream is off", conf)
		}
		if o.MaxPayload < 2<<20 {
			t.Errorf("%s: max_payload %d: an oversized sign-in would be refused at publish instead of dead-lettered", conf, o.MaxPayload)
		}
		if o.Cluster.Name != "seatflow" {
			t.Errorf("%s: cluster name %q, want seatflow", conf, o.Cluster.Name)
		}
		if names[o.ServerName] {
			t.Errorf("%s: server name %q used twice", conf, o.ServerName)
		}
		names[o.ServerName] = true
		var hosts []string
		for _, r := range o.Routes {
			hosts = append(hosts, r.Hostname())
			if r.Port() != "6222" {
				t.Errorf("%s: route %s is not on the cluster port 6222", conf, r)
			}
		}
		slices.Sort(hosts)
		if !slices.Equal(hosts, natsServices) {
			t.Errorf("%s: routes to %v, want every NATS service %v", conf, hosts, natsServices)
		}
	}
	// Every seatflow instance reaches all three nodes at 3 replicas, with
	// the service credentials seatflow-init writes.
	initSvc, err := p.GetService("seatflow-init")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(initSvc.Command, "cluster") || !slices.Contains(initSvc.Command, "/auth") {
		t.Errorf("seatflow-init: command %v, want `creds cluster --out /auth`", initSvc.Command)
	}
	for _, name := range []string{"seatflow-1", "seatflow-2"} {
		s, _ := p.GetService(name)
		if got := deref(s.Environment["SEATFLOW_NATS_CREDS"]); got != "/auth/service.creds" {
			t.Errorf("%s: SEATFLOW_NATS_CREDS %q, want /auth/service.creds", name, got)
		}
		if d, ok := s.DependsOn["seatflow-init"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s: does not wait for seatflow-init to complete", name)
		}
		url := deref(s.Environment["SEATFLOW_NATS_URL"])
		for _, n := range natsServices {
			if !strings.Contains(url, "nats://"+n+":4222") {
				t.Errorf("%s: SEATFLOW_NATS_URL %q does not name %s", name, url, n)
			}
		}
		if got := deref(s.Environment["SEATFLOW_PUBLIC_URL"]); !strings.HasPrefix(got, "http://localhost:808") {
			t.Errorf("%s: SEATFLOW_PUBLIC_URL %q: share links would not reach the instance", name, got)
		}
		if got := deref(s.Environment["SEATFLOW_SMTP_ADDR"]); got != "mailpit:1025" {
			t.Errorf("%s: SEATFLOW_SMTP_ADDR %q, want the mail catcher", name, got)
		}
		if got := deref(s.Environment["SEATFLOW_REPLICAS"]); got != "3" {
			t.Errorf("%s: replicas %q, want 3", name, got)
		}
	}
}

func TestPrometheusScrapesBothInstances(t *testing.T) {
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"seatflow-1:8080", "seatflow-2:8080"} {
		if !strings.Contains(string(b), target) {
			t.Errorf("prometheus.yml does not scrape %s", target)
		}
	}
}

func TestGrafanaDashboardIsValid(t *testing.T) {
	files, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(files) == 0 {
		t.Fatal("no provisioned dashboard")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.Title == "" || len(d.Panels) == 0 {
			t.Fatalf("%s: no title or panels", f)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
				t.Errorf("%s: panel %q queries nothing", f, p.Title)
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// withAuth copies a node's config beside an auth/auth.conf generated the way
// seatflow-init does (`seatflow creds cluster`), so nats-server's parser
// follows the include as the container would.
func withAuth(t *testing.T, conf string) string {
	t.Helper()
	id, err := natsauth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := id.ServerConfigFile("/data/accounts", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "auth"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth", "auth.conf"), auth, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(conf))
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
