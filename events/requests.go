package events

import "time"

// Wire names of the license-request event types that are not in
// CONTRACT.md's minimum list. They never change.
const (
	TypeRequestExpiryWarned = "RequestExpiryWarned"
)

// RequestExpiryWarned records, on the request aggregate, that the users of a
// still pending request were told it expires at ExpiresAt. It is appended
// once per request, so the warning is sent exactly once however many
// schedulers run.
type RequestExpiryWarned struct {
	RequestID string    `json:"request_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (RequestExpiryWarned) EventType() string { return TypeRequestExpiryWarned }
func (RequestExpiryWarned) EventVersion() int { return 1 }

// registerRequests adds the license-request types of this file to r.
func registerRequests(r *Registry) {
	Register[RequestExpiryWarned](r)
}
