package encode

import (
	"errors"

	segjson "github.com/segmentio/encoding/json"

	"github.com/seatflow/seatflow/events"
)

// StrictJSON is events.Unmarshal with github.com/segmentio/encoding/json:
// the rules of events.StrictUnmarshal (unknown fields and trailing data are
// errors), about four times faster on a LicensesClaimed of 250 claims,
// with fewer allocations. Every event the projections, the notifier and
// the domain read is decoded, and every event appended is decoded again
// before it is sent (Writes), so this is on every path.
func StrictJSON(data []byte, v any) error {
	rest, err := segjson.Parse(data, v, segjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}

// Registry is events.Default decoding with StrictJSON, and the types that
// make up most of a stream, in the form events.Encode writes them, by hand
// (see directLicensesClaimed): the registry the service runs with.
func Registry() *events.Registry {
	return events.Default().WithUnmarshal(StrictJSON).
		WithDirect(events.TypeLicensesClaimed, directLicensesClaimed).
		WithDirect(events.TypeLicenseClaimed, directLicenseClaimed).
		WithDirect(events.TypeLicenseAssigned, directLicenseAssigned)
}
