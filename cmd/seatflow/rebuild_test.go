package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRebuildReplaysEveryReadModel: rebuild replays the stream into every
// read model serve keeps, reports events per second, and the next serve
// resumes from the checkpoint it saved and answers as before.
func TestRebuildReplaysEveryReadModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svc, stop := startServe(t, dir, "--demo")
	admin := token(t, "demo", "ada", "global-admin")
	waitFor(t, 10*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	before := svc.do(t, "GET", "/v1/products", admin, nil).want(t, 200, "").raw
	stop()

	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"rebuild", "--data-dir", dir, "--token-secret", testSecret}, &out, &errOut, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("rebuild exited %d: %s", code, errOut.String())
	}
	for _, want := range []string{"rebuilt license_counts", "rebuilt user_licenses", "events/s", "saved the checkpoint"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("rebuild output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Count(out.String(), "rebuilt ") < 4 {
		t.Fatalf("rebuild replayed too few read models:\n%s", out.String())
	}
	// serve's checkpoint (saved as it stopped) sized the per-user maps of
	// the demo's licensed users.
	sized := false
	for line := range strings.Lines(errOut.String()) {
		if strings.Contains(line, "read models sized as at the checkpoint") {
			sized = strings.Contains(line, "user_licenses") && strings.Contains(line, "license_history")
		}
	}
	if !sized {
		t.Fatalf("rebuild did not size user licenses and license history from serve's checkpoint:\n%s", errOut.String())
	}

	svc, stop = startServe(t, dir)
	waitFor(t, 10*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	if !strings.Contains(svc.logs.String(), "resumed from checkpoint") {
		t.Fatalf("serve after rebuild did not resume from its checkpoint:\n%s", svc.logs.String())
	}
	if after := svc.do(t, "GET", "/v1/products", admin, nil).want(t, 200, "").raw; after != before {
		t.Fatalf("products differ after rebuild:\nbefore %s\nafter  %s", before, after)
	}
	stop()
}
