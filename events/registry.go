package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrUnknownType is returned (wrapped) when an envelope names a type or
// version that the registry does not know.
var ErrUnknownType = errors.New("unknown event type")

// ErrMalformed is returned (wrapped) when bytes are not a well-formed envelope
// or its data does not match its type.
var ErrMalformed = errors.New("malformed event")

// Upcaster turns the JSON data of one version of a type into the JSON data of
// the next version.
type Upcaster func(old json.RawMessage) (json.RawMessage, error)

type typeVersion struct {
	name    string
	version int
}

type decoder func(json.RawMessage) (Data, error)

// Registry maps wire names and versions to Go types. It is built once, at
// start-up, and read concurrently afterwards.
type Registry struct {
	current   map[string]int
	decoders  map[typeVersion]decoder
	upcasters map[typeVersion]Upcaster // keyed by the version they read
	// wholes decode a whole envelope of a type's current version in one
	// pass (Decode's fast path).
	wholes map[string]func([]byte) (Envelope, error)
	// direct decode whole envelopes of some types by hand, without
	// reflection, when they are in the form Encode writes (Decode's
	// fastest path; see WithDirect).
	direct map[string]func([]byte) (Envelope, bool)
	// unmarshal decodes event data and, on the fast path, whole envelopes.
	unmarshal Unmarshal
}

// Unmarshal decodes the JSON in data into v, a pointer, strictly: an
// unknown field, a value of the wrong kind or anything after the value is
// an error, as with encoding/json's Decoder with DisallowUnknownFields.
type Unmarshal func(data []byte, v any) error

// StrictUnmarshal is Unmarshal with encoding/json, the registry's default.
func StrictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// NewRegistry returns an empty registry. Most callers want Default.
func NewRegistry() *Registry {
	return &Registry{
		current:   map[string]int{},
		decoders:  map[typeVersion]decoder{},
		upcasters: map[typeVersion]Upcaster{},
		wholes:    map[string]func([]byte) (Envelope, error){},
		direct:    map[string]func([]byte) (Envelope, bool){},
		unmarshal: StrictUnmarshal,
	}
}

// WithDirect makes Decode try decode first on envelopes of type name, and
// returns the registry. decode must give exactly what the registry's other
// paths give (the envelope encoding/json's strict rules make of b, of the
// type's current version) or report false, for anything it does not
// handle: then Decode takes its other paths, which also give the errors.
// It is for the few types that carry most of a stream (batches of claims,
// each event holding hundreds), decoded by hand in the form Encode writes
// them. Call it at start-up, before the registry is used.
func (r *Registry) WithDirect(name string, decode func(b []byte) (Envelope, bool)) *Registry {
	if _, ok := r.current[name]; !ok {
		panic(fmt.Sprintf("events: a direct decoder for %s, which is not registered", name))
	}
	r.direct[name] = decode
	return r
}

// WithUnmarshal makes the registry decode event data with u, a faster
// implementation of the same rules as StrictUnmarshal, and returns it. Call
// it at start-up, before the registry is used. An envelope that fails it
// is read again with encoding/json, whose errors say what is malformed.
func (r *Registry) WithUnmarshal(u Unmarshal) *Registry {
	r.unmarshal = u
	return r
}

// Register adds T as the current version of its event type. Registering two
// versions of one type as current, or one version twice, panics: it is a
// programming error found at start-up.
func Register[T Data](r *Registry) {
	var zero T
	tv := typeVersion{zero.EventType(), zero.EventVersion()}
	if _, dup := r.current[tv.name]; dup {
		panic(fmt.Sprintf("events: %s registered twice", tv.name))
	}
	r.current[tv.name] = tv.version
	r.decoders[tv] = func(raw json.RawMessage) (Data, error) {
		var v T
		if err := r.unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return v, nil
	}
	r.wholes[tv.name] = func(b []byte) (Envelope, error) {
		var w struct {
			wireHeader
			Data *T `json:"data"`
		}
		if err := r.unmarshal(b, &w); err != nil {
			return Envelope{}, err
		}
		if w.Data == nil || w.Type != tv.name || w.Version != tv.version {
			return Envelope{}, errors.New("not for the fast path")
		}
		return Envelope{
			ID: w.ID, Type: w.Type, Version: w.Version, Tenant: w.Tenant, Aggregate: w.Aggregate,
			OccurredAt: w.OccurredAt, Actor: w.Actor, CommandID: w.CommandID,
			CorrelationID: w.CorrelationID, CausationID: w.CausationID, Data: *w.Data,
		}, nil
	}
}

// AddUpcaster registers up as the way from version `from` of type name to
// version from+1.
func (r *Registry) AddUpcaster(name string, from int, up Upcaster) {
	tv := typeVersion{name, from}
	if _, dup := r.upcasters[tv]; dup {
		panic(fmt.Sprintf("events: upcaster %s v%d registered twice", name, from))
	}
	r.upcasters[tv] = up
}

// Types lists the registered type names with their current versions, sorted
// by name.
func (r *Registry) Types() []TypeInfo {
	out := make([]TypeInfo, 0, len(r.current))
	for n, v := range r.current {
		out = append(out, TypeInfo{Name: n, Version: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Versions lists every version of name that Decode accepts, oldest first.
func (r *Registry) Versions(name string) []int {
	cur, ok := r.current[name]
	if !ok {
		return nil
	}
	var vs []int
	for v := cur - 1; v >= 1; v-- {
		if _, ok := r.upcasters[typeVersion{name, v}]; !ok {
			break
		}
		vs = append([]int{v}, vs...)
	}
	return append(vs, cur)
}

// TypeInfo names one registered event type.
type TypeInfo struct {
	Name    string
	Version int
}

// wireHeader is the encoded envelope without its data.
type wireHeader struct {
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
}

// wireEnvelope is the encoded form, with data left raw until the type is
// known.
type wireEnvelope struct {
	wireHeader
	Data json.RawMessage `json:"data"`
}

// typeKey precedes the type name in an encoded envelope.
var typeKey = []byte(`"type":"`)

// peekType guesses the type name of an encoded envelope from the first
// "type" key; Decode's fast path confirms it by decoding.
func peekType(b []byte) string {
	i := bytes.Index(b, typeKey)
	if i < 0 {
		return ""
	}
	rest := b[i+len(typeKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 100 {
		return ""
	}
	return string(rest[:j])
}

// Decode parses one encoded envelope, lifts old versions of its data to the
// current version with the registered upcasters, and validates it. The
// returned envelope's Version is the current version of its type.
// Errors wrap ErrUnknownType or ErrMalformed.
func (r *Registry) Decode(b []byte) (Envelope, error) {
	// Fast path: an envelope of a type's current version decodes in one
	// pass straight into its data type. Anything else (an older version,
	// a malformed envelope) takes the general path below, which also gives
	// the errors.
	name := peekType(b)
	if direct, ok := r.direct[name]; ok {
		if env, ok := direct(b); ok {
			if err := env.Validate(); err == nil {
				return env, nil
			}
		}
	}
	if whole, ok := r.wholes[name]; ok {
		if env, err := whole(b); err == nil {
			if err := env.Validate(); err == nil {
				return env, nil
			}
		}
	}
	var w wireEnvelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Envelope{}, fmt.Errorf("%w: trailing data after envelope", ErrMalformed)
	}
	cur, ok := r.current[w.Type]
	if !ok {
		return Envelope{}, fmt.Errorf("%w: %q", ErrUnknownType, w.Type)
	}
	if w.Version < 1 || w.Version > cur {
		return Envelope{}, fmt.Errorf("%w: %s version %d (this build knows up to %d)", ErrUnknownType, w.Type, w.Version, cur)
	}
	if len(w.Data) == 0 || string(w.Data) == "null" {
		return Envelope{}, fmt.Errorf("%w: %s has no data", ErrMalformed, w.Type)
	}
	raw := w.Data
	for v := w.Version; v < cur; v++ {
		up, ok := r.upcasters[typeVersion{w.Type, v}]
		if !ok {
			return Envelope{}, fmt.Errorf("%w: no upcaster for %s v%d", ErrUnknownType, w.Type, v)
		}
		var err error
		if raw, err = up(raw); err != nil {
			return Envelope{}, fmt.Errorf("%w: upcast %s v%d: %v", ErrMalformed, w.Type, v, err)
		}
	}
	data, err := r.decoders[typeVersion{w.Type, cur}](raw)
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: %s data: %v", ErrMalformed, w.Type, err)
	}
	env := Envelope{
		ID: w.ID, Type: w.Type, Version: cur, Tenant: w.Tenant, Aggregate: w.Aggregate,
		OccurredAt: w.OccurredAt, Actor: w.Actor, CommandID: w.CommandID,
		CorrelationID: w.CorrelationID, CausationID: w.CausationID, Data: data,
	}
	if err := env.Validate(); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return env, nil
}
