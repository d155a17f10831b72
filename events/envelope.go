package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind names an aggregate kind. It is the fourth token of an event subject.
type Kind string

// The aggregate kinds of ARCHITECTURE.md.
const (
	KindOrg     Kind = "org"
	KindProduct Kind = "product"
	KindRequest Kind = "request"
	KindPolicy  Kind = "policy"
	KindUser    Kind = "user"
	KindGroup   Kind = "group"
)

// Kinds lists every aggregate kind.
var Kinds = []Kind{KindOrg, KindProduct, KindRequest, KindPolicy, KindUser, KindGroup}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// Aggregate identifies one aggregate instance within a tenant.
type Aggregate struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
}

// SubjectPrefix is the first token of every event subject.
const SubjectPrefix = "sf.evt"

// Subject is the one literal subject of an aggregate instance:
// sf.evt.<tenant>.<kind>.<id>. Tenant and id must be valid (see ValidTenant
// and ValidID); the subject is never built with a wildcard.
func Subject(tenant string, agg Aggregate) string {
	return SubjectPrefix + "." + tenant + "." + string(agg.Kind) + "." + agg.ID
}

// TenantSubjects is the filter matching every event of one tenant.
func TenantSubjects(tenant string) string { return SubjectPrefix + "." + tenant + ".>" }

// ParseSubject splits an event subject into tenant and aggregate.
func ParseSubject(subject string) (tenant string, agg Aggregate, err error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 5 || parts[0]+"."+parts[1] != SubjectPrefix {
		return "", Aggregate{}, fmt.Errorf("not an event subject: %q", subject)
	}
	agg = Aggregate{Kind: Kind(parts[3]), ID: parts[4]}
	if !ValidTenant(parts[2]) || !agg.Kind.Valid() || !ValidID(agg.ID) {
		return "", Aggregate{}, fmt.Errorf("not an event subject: %q", subject)
	}
	return parts[2], agg, nil
}

// Patterns of tenants and ids, as documented; ValidTenant and ValidID check
// them by hand (they run several times per sign-in), and a test holds them
// to these expressions.
const (
	TenantPattern = `^[a-z0-9][a-z0-9-]{0,62}$`
	IDPattern     = `^[A-Za-z0-9][A-Za-z0-9_@-]{0,127}$`
)

func lowerOrDigit(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func alnum(c byte) bool { return lowerOrDigit(c) || 'A' <= c && c <= 'Z' }

// ValidTenant reports whether s can name a tenant: 1 to 63 lower-case letters,
// digits and dashes, starting with a letter or digit.
func ValidTenant(s string) bool {
	if len(s) == 0 || len(s) > 63 || !lowerOrDigit(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !lowerOrDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// ValidID reports whether s can identify an aggregate (and so be a subject
// token): 1 to 128 letters, digits, '_', '-' or '@', starting with a letter or
// digit. Dots, spaces and wildcards are excluded because they would change
// the subject's meaning.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '@' && c != '-' {
			return false
		}
	}
	return true
}

// Envelope is one event as stored on the stream. Data holds the event's typed
// payload (a value of one of the types in this package); Type and Version name
// it on the wire.
type Envelope struct {
	ID            string    `json:"id"`
	Type          string    `json:"type"`
	Version       int       `json:"version"`
	Tenant        string    `json:"tenant"`
	Aggregate     Aggregate `json:"aggregate"`
	OccurredAt    time.Time `json:"occurred_at"`
	Actor         string    `json:"actor"`
	CommandID     string    `json:"command_id"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	CausationID   string    `json:"causation_id,omitempty"`
	Data          Data      `json:"data"`

	// Position is the stream sequence the event was stored at. It is not part
	// of the encoded form; stores fill it in when they load or append.
	Position uint64 `json:"-"`
}

// Subject is the subject the envelope is stored under.
func (e Envelope) Subject() string { return Subject(e.Tenant, e.Aggregate) }

// Data is implemented by every event payload type.
type Data interface {
	// EventType is the wire name of the type, e.g. "LicenseAssigned".
	EventType() string
	// EventVersion is the version of the payload's shape.
	EventVersion() int
}

// Meta is what a command contributes to the envelopes of the events it
// causes.
type Meta struct {
	Actor         string
	CommandID     string
	CorrelationID string
	CausationID   string
}

// New builds an envelope for data. The caller supplies the ID (a ULID made at
// the edge) and the time.
func New(id, tenant string, agg Aggregate, at time.Time, meta Meta, data Data) Envelope {
	return Envelope{
		ID:            id,
		Type:          data.EventType(),
		Version:       data.EventVersion(),
		Tenant:        tenant,
		Aggregate:     agg,
		OccurredAt:    at.UTC(),
		Actor:         meta.Actor,
		CommandID:     meta.CommandID,
		CorrelationID: meta.CorrelationID,
		CausationID:   meta.CausationID,
		Data:          data,
	}
}

// Validate checks the envelope's own fields (not its data).
func (e Envelope) Validate() error {
	var errs []error
	if e.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if e.Type == "" {
		errs = append(errs, errors.New("type is empty"))
	}
	if e.Version < 1 {
		errs = append(errs, fmt.Errorf("version %d is not positive", e.Version))
	}
	if !ValidTenant(e.Tenant) {
		errs = append(errs, fmt.Errorf("tenant %q is not valid", e.Tenant))
	}
	if !e.Aggregate.Kind.Valid() {
		errs = append(errs, fmt.Errorf("aggregate kind %q is not valid", e.Aggregate.Kind))
	}
	if !ValidID(e.Aggregate.ID) {
		errs = append(errs, fmt.Errorf("aggregate id %q is not valid", e.Aggregate.ID))
	}
	if e.OccurredAt.IsZero() {
		errs = append(errs, errors.New("occurred_at is missing"))
	}
	if e.CommandID == "" {
		errs = append(errs, errors.New("command_id is empty"))
	}
	if e.Data == nil {
		errs = append(errs, errors.New("data is missing"))
	} else if e.Data.EventType() != e.Type || e.Data.EventVersion() != e.Version {
		errs = append(errs, fmt.Errorf("data is %s v%d but envelope says %s v%d",
			e.Data.EventType(), e.Data.EventVersion(), e.Type, e.Version))
	}
	return errors.Join(errs...)
}

// Encode returns the JSON form of the envelope after validating it.
func Encode(e Envelope) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	return json.Marshal(e)
}

// CheckAggregate reports why tenant and agg cannot name an aggregate's
// subject, or nil when they can.
func CheckAggregate(tenant string, agg Aggregate) error {
	if !ValidTenant(tenant) {
		return fmt.Errorf("tenant %q is not valid", tenant)
	}
	if !agg.Kind.Valid() {
		return fmt.Errorf("aggregate kind %q is not valid", agg.Kind)
	}
	if !ValidID(agg.ID) {
		return fmt.Errorf("aggregate id %q is not valid", agg.ID)
	}
	return nil
}
