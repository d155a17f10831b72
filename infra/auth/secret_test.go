package auth_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/seatflow/seatflow/infra/auth"
)

func TestLoadOrCreateSecretCreatesThenReads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	firsts, err := auth.LoadOrCreateSecrets(dir)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(firsts) != 1 {
		t.Fatalf("created %d keys, want 1", len(firsts))
	}
	first := firsts[0]
	if len(first) != 32 {
		t.Fatalf("secret is %d bytes, want 32", len(first))
	}
	if _, err := auth.NewIssuer(first); err != nil {
		t.Fatalf("NewIssuer on created secret: %v", err)
	}
	path := filepath.Join(dir, auth.SecretFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode %v, want 0600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode %v, want 0700", got)
	}
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != hex.EncodeToString(first) {
		t.Errorf("file holds %q, want hex of the secret", b)
	}
	again, err := auth.LoadOrCreateSecrets(dir)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(again) != 1 || !bytes.Equal(first, again[0]) {
		t.Fatal("second call returned a different secret")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only %s", len(entries), auth.SecretFile)
	}
}

func TestLoadOrCreateSecretConcurrentCallersAgree(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var keys [][]byte
			keys, errs[i] = auth.LoadOrCreateSecrets(dir)
			if len(keys) > 0 {
				got[i] = keys[0]
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("caller %d got a different secret", i)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only %s (temp files left behind?)", len(entries), auth.SecretFile)
	}
}

func TestLoadOrCreateSecretKeepsExistingAndRejectsBadFiles(t *testing.T) {
	mine := bytes.Repeat([]byte{0xab}, 48)
	old := bytes.Repeat([]byte{0xcd}, 32)
	cases := map[string]struct {
		content string
		want    [][]byte // nil: an error
	}{
		"operator's longer secret": {hex.EncodeToString(mine) + "\n", [][]byte{mine}},
		"current and previous":     {"# rotated 2026-11-30\n" + hex.EncodeToString(mine) + "\n\n" + hex.EncodeToString(old) + "\n", [][]byte{mine, old}},
		"not hex":                  {"correct horse battery staple correct horse battery", nil},
		"too short":                {hex.EncodeToString(mine[:16]), nil},
		"second key bad":           {hex.EncodeToString(mine) + "\nzz\n", nil},
		"same key twice":           {hex.EncodeToString(mine) + "\n" + hex.EncodeToString(mine) + "\n", nil},
		"empty":                    {"", nil},
		"only comments":            {"# nothing\n", nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, auth.SecretFile)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := auth.LoadOrCreateSecrets(dir)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("accepted %q", tc.content)
				}
			} else if err != nil || !slices.EqualFunc(got, tc.want, bytes.Equal) {
				t.Fatalf("got %x, %v; want %x", got, err, tc.want)
			}
			after, _ := os.ReadFile(path)
			if string(after) != tc.content {
				t.Fatalf("file was rewritten to %q", after)
			}
		})
	}
}

func TestLoadOrCreateSecretNeedsDir(t *testing.T) {
	if _, err := auth.LoadOrCreateSecrets(""); err == nil {
		t.Fatal("accepted an empty data dir")
	}
}
