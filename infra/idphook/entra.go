package idphook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/seatflow/seatflow/events"
)

// Entra ID diagnostic-setting categories of users' sign-ins; records of
// other categories (service principals, managed identities, audit logs)
// are ignored.
var entraUserCategories = map[string]bool{
	"SignInLogs":                   true,
	"NonInteractiveUserSignInLogs": true,
}

// entraSignIn is the part of a Microsoft Graph signIn Seatflow reads.
type entraSignIn struct {
	ID                string `json:"id"`
	CreatedDateTime   string `json:"createdDateTime"`
	UserPrincipalName string `json:"userPrincipalName"`
	UserID            string `json:"userId"`
	AppID             string `json:"appId"`
}

// entraRecord is a diagnostic-setting record: the signIn is its properties.
type entraRecord struct {
	Time       string          `json:"time"`
	Category   string          `json:"category"`
	Properties json.RawMessage `json:"properties"`
}

// ParseEntra reads Entra ID sign-in logs in any of the forms they leave
// Entra ID in:
//   - {"records": [record, …]}, as a diagnostic setting exports them (to an
//     event hub or a storage account), each record {time, category,
//     properties: signIn}; records of categories other than SignInLogs and
//     NonInteractiveUserSignInLogs are ignored;
//   - {"value": [signIn, …]}, a page of Microsoft Graph's
//     GET /auditLogs/signIns;
//   - [signIn, …] or one signIn object.
//
// Failed sign-ins (status.errorCode other than 0) are returned marked
// ignored without checking their other fields. It returns a
// *MalformedError when the payload or a sign-in it would act on cannot be
// read.
func ParseEntra(body []byte, now time.Time) ([]Event, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var list []json.RawMessage
		if err := decodeAt("", body, &list); err != nil {
			return nil, err
		}
		return parseEntraList("", list, now)
	}
	var top map[string]json.RawMessage
	if err := decodeAt("", body, &top); err != nil {
		return nil, err
	}
	if top == nil {
		return nil, malformed("body", "must be an object or an array, not null")
	}
	if raw, ok := top["records"]; ok {
		var records []json.RawMessage
		if err := decodeAt("records", raw, &records); err != nil {
			return nil, err
		}
		out := make([]Event, 0, len(records))
		for i, r := range records {
			e, err := parseEntraRecord(fmt.Sprintf("records[%d]", i), r, now)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	if raw, ok := top["value"]; ok {
		var list []json.RawMessage
		if err := decodeAt("value", raw, &list); err != nil {
			return nil, err
		}
		return parseEntraList("value", list, now)
	}
	e, err := parseEntraSignIn("", body, "", now)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

func parseEntraList(at string, list []json.RawMessage, now time.Time) ([]Event, error) {
	out := make([]Event, 0, len(list))
	for i, raw := range list {
		e, err := parseEntraSignIn(join(at, fmt.Sprintf("[%d]", i)), raw, "", now)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parseEntraRecord(at string, raw json.RawMessage, now time.Time) (Event, error) {
	var r *entraRecord
	if err := decodeAt(at, raw, &r); err != nil {
		return Event{}, err
	}
	if r == nil {
		return Event{}, malformed(at, "must be an object, not null")
	}
	switch {
	case r.Category == "":
		return Event{}, malformed(join(at, "category"), "is required: a diagnostic-setting record names its log category")
	case !entraUserCategories[r.Category]:
		return Event{Provider: events.ProviderEntra, Ignored: IgnoredOtherEvent}, nil
	case len(r.Properties) == 0:
		return Event{}, malformed(join(at, "properties"), "is required: a sign-in record carries the signIn in properties")
	}
	return parseEntraSignIn(join(at, "properties"), r.Properties, r.Time, now)
}

// parseEntraSignIn reads one signIn at path at; fallbackTime, if not
// empty, is the time of the record that carries it.
func parseEntraSignIn(at string, raw json.RawMessage, fallbackTime string, now time.Time) (Event, error) {
	// The status is read first: the rest of a failed sign-in may be
	// anything.
	var head *struct {
		Status *struct {
			ErrorCode *int64 `json:"errorCode"`
		} `json:"status"`
	}
	if err := decodeAt(at, raw, &head); err != nil {
		return Event{}, err
	}
	if head == nil {
		return Event{}, malformed(cmpOr(at, "body"), "must be a signIn object, not null")
	}
	out := Event{Provider: events.ProviderEntra}
	switch {
	case head.Status == nil || head.Status.ErrorCode == nil:
		return Event{}, malformed(join(at, "status.errorCode"), "is required: 0 is a successful sign-in")
	case *head.Status.ErrorCode != 0:
		out.Ignored = IgnoredFailed
		return out, nil
	}
	var s entraSignIn
	if err := decodeAt(at, raw, &s); err != nil {
		return Event{}, err
	}
	var err error
	if out.ID, err = eventID(events.ProviderEntra, join(at, "id"), s.ID); err != nil {
		return Event{}, err
	}
	when, field := s.CreatedDateTime, join(at, "createdDateTime")
	if when == "" && fallbackTime != "" {
		when = fallbackTime
	}
	if out.At, err = eventTime(field, when, now); err != nil {
		return Event{}, err
	}
	if s.UserPrincipalName == "" {
		return Event{}, malformed(join(at, "userPrincipalName"), "is required: the user who signed in")
	}
	if s.AppID == "" {
		return Event{}, malformed(join(at, "appId"), "is required: the application signed in to")
	}
	out.Login, out.ProviderUserID, out.AppID = s.UserPrincipalName, s.UserID, s.AppID
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
