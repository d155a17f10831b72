package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SecretFile is the name of the token secret inside the data directory.
const SecretFile = "token-secret"

// LoadOrCreateSecrets returns the token keys stored in
// <dataDir>/token-secret, creating the directory (0700) and the file (0600,
// one key of 32 random bytes, hex-encoded) when there is none yet.
//
// The file holds one key per line, each in the form ParseSecret reads; the
// first line is the current key (it signs), the others are previous keys
// that still verify. Blank lines and lines starting with '#' are ignored.
//
// Two processes starting at once agree on one secret: the new secret is
// written to a temporary file and hard-linked into place, which fails rather
// than replaces when the other process won; the loser then reads the
// winner's file. A file that exists is never overwritten, and one that does
// not hold valid keys is an error, not a reason to make a new secret (that
// would invalidate every issued token).
func LoadOrCreateSecrets(dataDir string) ([][]byte, error) {
	if dataDir == "" {
		return nil, errors.New("auth: data dir is empty")
	}
	path := filepath.Join(dataDir, SecretFile)
	secrets, err := readSecrets(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secrets, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create data dir: %w", err)
	}
	raw := make([]byte, MinSecretLen)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("auth: generate token secret: %w", err)
	}
	if err := publish(path, []byte(hex.EncodeToString(raw)+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readSecrets(path)
		}
		return nil, err
	}
	return [][]byte{raw}, nil
}

// publish makes path hold data, complete, or fails with an error wrapping
// fs.ErrExist when path already exists.
func publish(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+SecretFile+".*")
	if err != nil {
		return fmt.Errorf("auth: create token secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("auth: write token secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("auth: install token secret: %w", err)
	}
	return nil
}

func readSecrets(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read token secret: %w", err)
	}
	var secrets [][]byte
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		secret, err := ParseSecret(line)
		if err != nil {
			return nil, fmt.Errorf("auth: token secret %s line %d: %w", path, n+1, err)
		}
		secrets = append(secrets, secret)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("auth: token secret %s holds no key", path)
	}
	if _, err := NewKeys(secrets...); err != nil {
		return nil, fmt.Errorf("auth: token secret %s: %w", path, err)
	}
	return secrets, nil
}
