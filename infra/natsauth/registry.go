package natsauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// RegistryFile lists, inside the data directory, every credential issued
// with that directory's identity (never the secrets): revocation by name
// needs the user keys issued under it.
const RegistryFile = "nats-creds.json"

// Issued is one issued credential as the registry keeps it.
type Issued struct {
	Tenant    string     `json:"tenant"`
	Role      Role       `json:"role"`
	Name      string     `json:"name"`
	User      string     `json:"user"`
	IssuedAt  time.Time  `json:"issued_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Registry is the file of issued credentials in a data directory. Its
// methods lock the file, so concurrent `seatflow creds` runs do not lose
// each other's entries.
type Registry struct{ path string }

// OpenRegistry returns the registry of dataDir.
func OpenRegistry(dataDir string) *Registry {
	return &Registry{path: filepath.Join(dataDir, RegistryFile)}
}

// Record adds an issued credential.
func (r *Registry) Record(e Issued) error {
	return r.update(func(list []Issued) ([]Issued, error) { return append(list, e), nil })
}

// ErrNoSuchCredential is returned by Revoke when nothing was issued under
// the tenant and name.
var ErrNoSuchCredential = errors.New("no credential issued under that tenant and name")

// Revoke marks every credential issued under tenant and name as revoked at
// at, and returns the users it revoked (also those revoked before).
func (r *Registry) Revoke(tenant, name string, at time.Time) ([]string, error) {
	var users []string
	err := r.update(func(list []Issued) ([]Issued, error) {
		for i := range list {
			if list[i].Tenant != tenant || list[i].Name != name {
				continue
			}
			if list[i].RevokedAt == nil || list[i].RevokedAt.Before(at) {
				t := at.UTC()
				list[i].RevokedAt = &t
			}
			users = append(users, list[i].User)
		}
		if len(users) == 0 {
			return nil, fmt.Errorf("%w: tenant %q, name %q", ErrNoSuchCredential, tenant, name)
		}
		return list, nil
	})
	return users, err
}

// Revocations returns every revoked user with the time of its revocation,
// as the account JWT carries them.
func (r *Registry) Revocations() (map[string]time.Time, error) {
	list, err := r.read()
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, e := range list {
		if e.RevokedAt != nil {
			out[e.User] = *e.RevokedAt
		}
	}
	return out, nil
}

// List returns every issued credential, oldest first.
func (r *Registry) List() ([]Issued, error) { return r.read() }

func (r *Registry) read() ([]Issued, error) {
	b, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("natsauth: read %s: %w", r.path, err)
	}
	var list []Issued
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("natsauth: %s: %w", r.path, err)
	}
	return list, nil
}

func (r *Registry) update(f func([]Issued) ([]Issued, error)) error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("natsauth: %w", err)
	}
	lock, err := os.OpenFile(r.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("natsauth: lock %s: %w", r.path, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("natsauth: lock %s: %w", r.path, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too

	list, err := r.read()
	if err != nil {
		return err
	}
	if list, err = f(list); err != nil {
		return err
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].IssuedAt.Before(list[j].IssuedAt) })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("natsauth: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(r.path), "."+RegistryFile+".*")
	if err != nil {
		return fmt.Errorf("natsauth: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("natsauth: write %s: %w", r.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("natsauth: write %s: %w", r.path, err)
	}
	if err := os.Rename(tmp.Name(), r.path); err != nil {
		return fmt.Errorf("natsauth: write %s: %w", r.path, err)
	}
	return nil
}
