package idphook

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/seatflow/seatflow/events"
)

// OktaSSO is the Okta System Log event type of a user's single sign-on to
// an application: the one event type Seatflow acts on.
const OktaSSO = "user.authentication.sso"

// OktaSuccess is the outcome.result of a successful sign-on.
const OktaSuccess = "SUCCESS"

// oktaEvent is the part of an Okta LogEvent Seatflow reads.
type oktaEvent struct {
	UUID      string `json:"uuid"`
	Published string `json:"published"`
	EventType string `json:"eventType"`
	Actor     *struct {
		ID          string `json:"id"`
		AlternateID string `json:"alternateId"`
	} `json:"actor"`
	Target []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"target"`
}

// ParseOkta reads an Okta Event Hook delivery: {eventType, …, data: {events:
// [LogEvent, …]}}, each event as the System Log API defines it. Events of
// types other than user.authentication.sso and failed sign-ons are returned
// marked ignored, without checking their other fields. It returns a
// *MalformedError when the payload or an event it would act on cannot be
// read.
func ParseOkta(body []byte, now time.Time) ([]Event, error) {
	var delivery struct {
		Data *struct {
			Events *[]json.RawMessage `json:"events"`
		} `json:"data"`
	}
	if err := decodeAt("", body, &delivery); err != nil {
		return nil, err
	}
	if delivery.Data == nil || delivery.Data.Events == nil {
		return nil, malformed("data.events", "is required: an Okta Event Hook delivery carries its events in data.events")
	}
	raws := *delivery.Data.Events
	out := make([]Event, 0, len(raws))
	for i, raw := range raws {
		e, err := parseOktaEvent(fmt.Sprintf("data.events[%d]", i), raw, now)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parseOktaEvent(at string, raw json.RawMessage, now time.Time) (Event, error) {
	// Only what tells whether Seatflow acts on the event is read first:
	// the rest of an event it ignores may be anything.
	var head *struct {
		EventType *string         `json:"eventType"`
		Outcome   json.RawMessage `json:"outcome"`
	}
	if err := decodeAt(at, raw, &head); err != nil {
		return Event{}, err
	}
	if head == nil {
		return Event{}, malformed(at, "must be an object, not null")
	}
	out := Event{Provider: events.ProviderOkta}
	switch {
	case head.EventType == nil || *head.EventType == "":
		return Event{}, malformed(join(at, "eventType"), "is required")
	case *head.EventType != OktaSSO:
		out.Ignored = IgnoredOtherEvent
		return out, nil
	}
	var outcome *struct {
		Result string `json:"result"`
	}
	if len(head.Outcome) > 0 {
		if err := decodeAt(join(at, "outcome"), head.Outcome, &outcome); err != nil {
			return Event{}, err
		}
	}
	switch {
	case outcome == nil || outcome.Result == "":
		return Event{}, malformed(join(at, "outcome.result"), "is required: it tells a successful sign-on from a failed one")
	case outcome.Result != OktaSuccess:
		out.Ignored = IgnoredFailed
		return out, nil
	}
	var ev oktaEvent
	if err := decodeAt(at, raw, &ev); err != nil {
		return Event{}, err
	}
	var err error
	if out.ID, err = eventID(events.ProviderOkta, join(at, "uuid"), ev.UUID); err != nil {
		return Event{}, err
	}
	if out.At, err = eventTime(join(at, "published"), ev.Published, now); err != nil {
		return Event{}, err
	}
	if ev.Actor == nil || ev.Actor.AlternateID == "" {
		return Event{}, malformed(join(at, "actor.alternateId"), "is required: the login of the user who signed on")
	}
	out.Login, out.ProviderUserID = ev.Actor.AlternateID, ev.Actor.ID
	for _, t := range ev.Target {
		if t.Type == "AppInstance" && t.ID != "" {
			out.AppID = t.ID
			break
		}
	}
	if out.AppID == "" {
		return Event{}, malformed(join(at, "target"), "names no AppInstance with an id: a user.authentication.sso event names the application signed on to")
	}
	return out, nil
}
