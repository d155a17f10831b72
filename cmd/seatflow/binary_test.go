package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestMain runs the tests, then removes the seatflow binary they built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built is the seatflow binary, built once per test binary run by the
// first test that runs it as a child process.
var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// buildBinary returns the path of the seatflow binary, building it on the
// first call.
func buildBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "seatflow-test-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "seatflow")
		if out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}
