package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPLimits: a client sending its body a byte at a time is cut off,
// an idle keep-alive connection is closed, and an oversized header block is
// refused with 431, each by the limits serve is given.
func TestHTTPLimits(t *testing.T) {
	t.Parallel()
	svc, _ := startServe(t, t.TempDir(), "--http-read-header-timeout", "500ms", "--http-read-timeout", "1s",
		"--http-idle-timeout", "1s", "--http-max-header-bytes", "8KiB")
	addr := strings.TrimPrefix(svc.base, "http://")

	// cut reads from c until the server closes it, and fails if that takes
	// longer than within.
	cut := func(t *testing.T, c net.Conn, within time.Duration) string {
		t.Helper()
		if err := c.SetReadDeadline(time.Now().Add(within)); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server kept the connection open for %s (read %q)", within, b)
		}
		return string(b)
	}

	t.Run("slow body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "POST /v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() { // a byte every 200ms, as a slow-loris client does
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
					if _, err := io.WriteString(c, " "); err != nil {
						return
					}
				}
			}
		}()
		cut(t, c, 10*time.Second)
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("healthz: %d", res.StatusCode)
		}
		cut(t, c, 10*time.Second)
	})

	t.Run("huge header", func(t *testing.T) {
		req, _ := http.NewRequest("GET", svc.base+"/healthz", nil)
		req.Header.Set("X-Padding", strings.Repeat("a", 900<<10))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("900 KiB header: got %d, want 431", res.StatusCode)
		}
	})
}

func TestHTTPLimitsValidated(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--http-read-timeout", "0s"},
		{"--http-read-header-timeout", "20s", "--http-read-timeout", "10s"},
		{"--http-max-header-bytes", "1"},
		{"--http-max-conns", "0"},
		{"--pprof"}, // without --metrics-listen
	} {
		var stderr strings.Builder
		code := Main(t.Context(), append([]string{"serve", "--data-dir", t.TempDir()}, args...), io.Discard, &stderr, func(string) string { return "" })
		if code != 2 || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("serve %v: exit %d, stderr %q; want 2 and one line", args, code, stderr.String())
		}
	}
}

// TestMetricsOnTheirOwnListenerWithoutTenantLabels: --metrics-listen moves
// /metrics off the API's listener, and --metrics-tenant-labels=false keeps
// the number of series fixed however many tenants and products there are.
func TestMetricsOnTheirOwnListenerWithoutTenantLabels(t *testing.T) {
	t.Parallel()
	svc, _ := startServe(t, t.TempDir(), "--metrics-listen", "127.0.0.1:0", "--metrics-tenant-labels=false", "--pprof")
	addr := svc.metricsAddr
	for _, tenant := range []string{"contoso", "fabrikam"} {
		svc.do(t, "POST", "/v1/products", token(t, tenant, "lena", "license-admin"), map[string]any{"product_id": "e5", "name": "E5",
			"services": []string{"mail"}, "licenses": 3, "self_service": "blocked"}).want(t, 201, "")
	}
	svc.do(t, "GET", "/metrics", "", nil).want(t, 404, "")
	svc.do(t, "GET", "/debug/pprof/heap", "", nil).want(t, 404, "")
	// --pprof: Go's profiles on the metrics listener only.
	res, err := http.Get("http://" + addr + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || len(prof) < 2 || prof[0] != 0x1f || prof[1] != 0x8b { // a gzipped profile
		t.Fatalf("heap profile on the metrics listener: %d, %d bytes", res.StatusCode, len(prof))
	}
	waitFor(t, 10*time.Second, "purchased licenses summed over tenants", func() bool {
		res, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := string(b)
		if strings.Contains(body, `tenant="`) {
			t.Fatalf("metrics carry a tenant label:\n%s", body)
		}
		return strings.Contains(body, `seatflow_licenses{state="purchased"} 6`)
	})
}
