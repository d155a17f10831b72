package natsauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// IdentityFile is the name of the service's NATS identity inside the data
// directory (mode 0600).
const IdentityFile = "nats-identity.json"

// AccountName is the name of the account that holds every Seatflow stream;
// SystemAccountName the NATS system account's.
const (
	AccountName       = "SEATFLOW"
	SystemAccountName = "SYS"
)

// Identity is the NATS trust chain Seatflow runs under: an operator that
// signs two accounts (the system account, and SEATFLOW where every stream
// lives), the service's own user in SEATFLOW, and a system user that pushes
// account updates (revocations) to running servers. Tenants' publishers and
// readers are users of SEATFLOW issued by Issue.
type Identity struct {
	Operator   nkeys.KeyPair
	System     nkeys.KeyPair
	Account    nkeys.KeyPair
	Service    nkeys.KeyPair
	SystemUser nkeys.KeyPair
	jsLimits   jwt.JetStreamLimits
}

type identityFile struct {
	Operator   string `json:"operator_seed"`
	System     string `json:"system_account_seed"`
	Account    string `json:"account_seed"`
	Service    string `json:"service_user_seed"`
	SystemUser string `json:"system_user_seed"`
}

// Generate makes a new identity with fresh keys.
func Generate() (*Identity, error) {
	id := &Identity{}
	var err error
	for _, k := range []struct {
		p   *nkeys.KeyPair
		gen func() (nkeys.KeyPair, error)
	}{
		{&id.Operator, nkeys.CreateOperator},
		{&id.System, nkeys.CreateAccount},
		{&id.Account, nkeys.CreateAccount},
		{&id.Service, nkeys.CreateUser},
		{&id.SystemUser, nkeys.CreateUser},
	} {
		if *k.p, err = k.gen(); err != nil {
			return nil, fmt.Errorf("natsauth: generate key: %w", err)
		}
	}
	return id, nil
}

// LoadOrCreate returns the identity stored in <dataDir>/nats-identity.json,
// generating it (directory 0700, file 0600) the first time. Two processes
// starting at once agree on one identity: the file is written aside and
// hard-linked into place, and the loser reads the winner's file. An existing
// file is never replaced: that would lock every issued credential out.
func LoadOrCreate(dataDir string) (*Identity, error) {
	id, err := Load(dataDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("natsauth: create data dir: %w", err)
	}
	if id, err = Generate(); err != nil {
		return nil, err
	}
	b, err := id.marshal()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, IdentityFile)
	if err := writeNew(path, b); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Load(dataDir)
		}
		return nil, err
	}
	return id, nil
}

// Load reads the identity in dataDir; a missing file wraps fs.ErrNotExist.
func Load(dataDir string) (*Identity, error) {
	path := filepath.Join(dataDir, IdentityFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("natsauth: read identity: %w", err)
	}
	var f identityFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("natsauth: identity %s: %w", path, err)
	}
	id := &Identity{}
	for _, k := range []struct {
		p      *nkeys.KeyPair
		seed   string
		prefix nkeys.PrefixByte
		what   string
	}{
		{&id.Operator, f.Operator, nkeys.PrefixByteOperator, "operator"},
		{&id.System, f.System, nkeys.PrefixByteAccount, "system account"},
		{&id.Account, f.Account, nkeys.PrefixByteAccount, "account"},
		{&id.Service, f.Service, nkeys.PrefixByteUser, "service user"},
		{&id.SystemUser, f.SystemUser, nkeys.PrefixByteUser, "system user"},
	} {
		kp, err := nkeys.FromSeed([]byte(k.seed))
		if err != nil {
			return nil, fmt.Errorf("natsauth: identity %s: %s seed: %w", path, k.what, err)
		}
		if pub, _ := kp.PublicKey(); !nkeys.IsValidPublicKey(pub) || pub[0] != prefixChar(k.prefix) {
			return nil, fmt.Errorf("natsauth: identity %s: %s seed is of the wrong kind", path, k.what)
		}
		*k.p = kp
	}
	return id, nil
}

func prefixChar(p nkeys.PrefixByte) byte {
	switch p {
	case nkeys.PrefixByteOperator:
		return 'O'
	case nkeys.PrefixByteAccount:
		return 'A'
	default:
		return 'U'
	}
}

func (id *Identity) marshal() ([]byte, error) {
	var f identityFile
	for _, k := range []struct {
		kp nkeys.KeyPair
		p  *string
	}{
		{id.Operator, &f.Operator}, {id.System, &f.System}, {id.Account, &f.Account},
		{id.Service, &f.Service}, {id.SystemUser, &f.SystemUser},
	} {
		seed, err := k.kp.Seed()
		if err != nil {
			return nil, fmt.Errorf("natsauth: identity seed: %w", err)
		}
		*k.p = string(seed)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeNew makes path hold data with mode 0600, or fails with an error
// wrapping fs.ErrExist when path already exists.
func writeNew(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("natsauth: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("natsauth: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("natsauth: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("natsauth: write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("natsauth: %w", err)
	}
	return nil
}

func pub(kp nkeys.KeyPair) string {
	p, err := kp.PublicKey()
	if err != nil {
		panic(fmt.Sprintf("natsauth: public key of a valid key pair: %v", err)) // cannot happen for keys made or checked here
	}
	return p
}

// OperatorPublicKey, AccountPublicKey and SystemAccountPublicKey name the
// identity's keys as servers and the NATS tools show them.
func (id *Identity) OperatorPublicKey() string      { return pub(id.Operator) }
func (id *Identity) AccountPublicKey() string       { return pub(id.Account) }
func (id *Identity) SystemAccountPublicKey() string { return pub(id.System) }

// SetJetStreamLimits replaces the SEATFLOW account's JetStream limits
// (default: unlimited). Tests use it to fill the disk on purpose.
func (id *Identity) SetJetStreamLimits(l jwt.JetStreamLimits) { id.jsLimits = l }

// OperatorClaims is the operator JWT's content, for server.Options.
func (id *Identity) OperatorClaims() (*jwt.OperatorClaims, string, error) {
	oc := jwt.NewOperatorClaims(id.OperatorPublicKey())
	oc.Name = "seatflow"
	oc.SystemAccount = id.SystemAccountPublicKey()
	tok, err := oc.Encode(id.Operator)
	if err != nil {
		return nil, "", fmt.Errorf("natsauth: operator jwt: %w", err)
	}
	back, err := jwt.DecodeOperatorClaims(tok)
	if err != nil {
		return nil, "", fmt.Errorf("natsauth: operator jwt: %w", err)
	}
	return back, tok, nil
}

// SystemAccountJWT is the system account's JWT, signed by the operator.
func (id *Identity) SystemAccountJWT() (string, error) {
	ac := jwt.NewAccountClaims(id.SystemAccountPublicKey())
	ac.Name = SystemAccountName
	tok, err := ac.Encode(id.Operator)
	if err != nil {
		return "", fmt.Errorf("natsauth: system account jwt: %w", err)
	}
	return tok, nil
}

// AccountJWT is the SEATFLOW account's JWT, signed by the operator, with
// JetStream enabled and the given revocations (user public key -> the time
// before which that user's credentials are refused).
func (id *Identity) AccountJWT(revocations map[string]time.Time) (string, error) {
	ac := jwt.NewAccountClaims(id.AccountPublicKey())
	ac.Name = AccountName
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1, MaxAckPending: -1}
	if id.jsLimits != (jwt.JetStreamLimits{}) {
		ac.Limits.JetStreamLimits = id.jsLimits
	}
	for k, at := range revocations {
		ac.RevokeAt(k, at)
	}
	tok, err := ac.Encode(id.Operator)
	if err != nil {
		return "", fmt.Errorf("natsauth: account jwt: %w", err)
	}
	return tok, nil
}

// ServiceCreds is the credentials file of the service's own user: every
// subject of the SEATFLOW account, with the default inbox prefix that no
// tenant may subscribe to.
func (id *Identity) ServiceCreds() ([]byte, error) {
	uc := jwt.NewUserClaims(pub(id.Service))
	uc.Name = "seatflow-service"
	return id.creds(uc, id.Account, id.Service)
}

// SystemUserCreds is the credentials file of a system-account user, which
// may push account JWT updates and look accounts up.
func (id *Identity) SystemUserCreds() ([]byte, error) {
	uc := jwt.NewUserClaims(pub(id.SystemUser))
	uc.Name = "seatflow-system"
	return id.creds(uc, id.System, id.SystemUser)
}

func (id *Identity) creds(uc *jwt.UserClaims, issuer, user nkeys.KeyPair) ([]byte, error) {
	tok, err := uc.Encode(issuer)
	if err != nil {
		return nil, fmt.Errorf("natsauth: user jwt %s: %w", uc.Name, err)
	}
	seed, err := user.Seed()
	if err != nil {
		return nil, fmt.Errorf("natsauth: user seed %s: %w", uc.Name, err)
	}
	b, err := jwt.FormatUserConfig(tok, seed)
	if err != nil {
		return nil, fmt.Errorf("natsauth: creds %s: %w", uc.Name, err)
	}
	return b, nil
}
