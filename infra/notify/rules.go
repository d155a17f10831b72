package notify

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/sharelink"
	"github.com/seatflow/seatflow/projections"
)

// Notification kinds.
const (
	KindRequestSubmitted = "request.submitted"
	KindRequestApproved  = "request.approved"
	KindRequestDenied    = "request.denied"
	KindRequestShared    = "request.shared"
	KindRequestExpiring  = "request.expiring"
	KindRequestExpired   = "request.expired"
	KindLicenseClaimed   = "license.claimed"
)

// Refs names what a notification is about.
type Refs struct {
	RequestID string `json:"request_id,omitempty"`
	PolicyID  string `json:"policy_id,omitempty"`
	ProductID string `json:"product_id,omitempty"`
}

// Notification is one message to one recipient, as published on
// sf.notify.<tenant>.email.
type Notification struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
	Refs    Refs     `json:"refs"`
	EventID string   `json:"event_id"`
}

// Lookup is what rules read to address and word notifications.
type Lookup interface {
	// User returns a directory user.
	User(tenant, id string) (projections.DirectoryUser, bool)
	// Admins lists the tenant's admins.
	Admins(tenant string) []projections.DirectoryUser
	// ProductName returns a product's name, or its id when unknown.
	ProductName(tenant, id string) string
	// Request returns a request's details.
	Request(tenant, id string) (projections.RequestDetails, bool)
	// ShareLink returns the URL a shared recipient answers through.
	ShareLink(c sharelink.Claims) (string, error)
}

// Rule maps one event to the notifications it causes, each addressed to
// one directory user (Draft.UserID).
type Rule func(l Lookup, env events.Envelope) ([]Draft, error)

// Draft is a notification for one user before it is addressed.
type Draft struct {
	UserID  string
	Kind    string
	Subject string
	Text    string
	Refs    Refs
	// Email, when set, is used instead of the user's directory address.
	Email string
}

// Rules maps event types to their rules. Other files add theirs with
// their own function (e.g. the auto-claim alerts) and Merge.
type Rules map[string]Rule

// Merge returns the rules of rs and more; more wins on a clash.
func (rs Rules) Merge(more Rules) Rules {
	out := Rules{}
	for k, v := range rs {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// DefaultRules are every rule serve runs: the request rules of this file,
// the auto-claim alerts of autoclaim.go and the forecast alert of
// foresight.go.
func DefaultRules() Rules {
	return RequestRules().Merge(AutoClaimRules()).Merge(ForesightRules())
}

// RequestRules are the notifications of license requests and claims.
func RequestRules() Rules {
	return Rules{
		events.TypeRequestSubmitted:    requestSubmitted,
		events.TypeRequestApproved:     requestApproved,
		events.TypeRequestDenied:       requestDenied,
		events.TypeRequestShared:       requestShared,
		events.TypeRequestExpiryWarned: requestExpiring,
		events.TypeRequestExpired:      requestExpired,
		events.TypeLicenseClaimed:      licenseClaimed,
		events.TypeLicensesClaimed:     licenseClaimed,
	}
}

func name(l Lookup, tenant, user string) string {
	if u, ok := l.User(tenant, user); ok && u.DisplayName != "" {
		return u.DisplayName
	}
	return user
}

func names(l Lookup, tenant string, users []string) string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = name(l, tenant, u)
	}
	return strings.Join(out, ", ")
}

func requestSubmitted(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.RequestSubmitted)
	product := l.ProductName(env.Tenant, e.ProductID)
	text := fmt.Sprintf("%s asks for %s for: %s.\n", name(l, env.Tenant, e.Requester), product, names(l, env.Tenant, e.Users))
	if e.Justification != "" {
		text += "\nJustification: " + e.Justification + "\n"
	}
	text += fmt.Sprintf("\nThe request is pending until %s. Review it in the Requests list (request %s).\n",
		e.ExpiresAt.UTC().Format(time.DateOnly), e.RequestID)
	var out []Draft
	for _, a := range l.Admins(env.Tenant) {
		out = append(out, Draft{UserID: a.UserID, Kind: KindRequestSubmitted, Subject: "License request: " + product,
			Text: text, Refs: Refs{RequestID: e.RequestID, ProductID: e.ProductID}})
	}
	return out, nil
}

func withMessage(text, msg string) string {
	if msg != "" {
		text += "\nMessage from your admin: " + msg + "\n"
	}
	return text
}

func requestApproved(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.RequestApproved)
	product := l.ProductName(env.Tenant, e.ProductID)
	how := "You now have a license of " + product + "."
	if e.GroupID != "" {
		how = "You were added to the licensed group " + e.GroupID + "."
	}
	var out []Draft
	users := append([]string{}, e.Approved...)
	for _, u := range e.AlreadyLicensed {
		if !contains(users, u) {
			users = append(users, u)
		}
	}
	for _, u := range users {
		text := "Your license request was approved. " + how + "\n"
		if contains(e.AlreadyLicensed, u) && e.GroupID == "" {
			text = "Your license request was approved; you already held " + product + ".\n"
		}
		out = append(out, Draft{UserID: u, Kind: KindRequestApproved, Subject: "License request approved: " + product,
			Text: withMessage(text, e.Message), Refs: Refs{RequestID: e.RequestID, ProductID: e.ProductID}})
	}
	for _, u := range e.Rejected {
		out = append(out, denied(l, env.Tenant, e.RequestID, u, e.Message))
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func denied(l Lookup, tenant, requestID, user, msg string) Draft {
	product, pid := "the product", ""
	if r, ok := l.Request(tenant, requestID); ok {
		product, pid = l.ProductName(tenant, r.ProductID), r.ProductID
	}
	return Draft{UserID: user, Kind: KindRequestDenied, Subject: "License request denied: " + product,
		Text: withMessage("Your request for "+product+" was not approved.\n", msg), Refs: Refs{RequestID: requestID, ProductID: pid}}
}

func requestDenied(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.RequestDenied)
	var out []Draft
	for _, u := range e.Rejected {
		out = append(out, denied(l, env.Tenant, e.RequestID, u, e.Message))
	}
	return out, nil
}

func requestShared(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.RequestShared)
	r, _ := l.Request(env.Tenant, e.RequestID)
	product := l.ProductName(env.Tenant, r.ProductID)
	subject := e.Subject
	if subject == "" {
		subject = "Your opinion on a license request for " + product
	}
	var out []Draft
	for _, rc := range e.Recipients {
		link, err := l.ShareLink(sharelink.Claims{Tenant: env.Tenant, RequestID: e.RequestID, ShareID: rc.ShareID, ExpiresAt: e.ExpiresAt})
		if err != nil {
			return nil, err
		}
		text := fmt.Sprintf("%s shared a license request with you: %s asks for %s for %s.\n",
			name(l, env.Tenant, env.Actor), name(l, env.Tenant, r.Requester), product, names(l, env.Tenant, r.Users))
		if r.Justification != "" {
			text += "\nJustification: " + r.Justification + "\n"
		}
		if e.Message != "" {
			text += "\n" + e.Message + "\n"
		}
		text += fmt.Sprintf("\nOpen this link to recommend approving or denying the request (no account needed; valid until %s):\n%s\n",
			e.ExpiresAt.UTC().Format(time.RFC3339), link)
		out = append(out, Draft{UserID: rc.UserID, Email: rc.Email, Kind: KindRequestShared, Subject: subject, Text: text,
			Refs: Refs{RequestID: e.RequestID, ProductID: r.ProductID}})
	}
	return out, nil
}

func requestExpiring(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.RequestExpiryWarned)
	r, ok := l.Request(env.Tenant, e.RequestID)
	if !ok {
		return nil, nil
	}
	product := l.ProductName(env.Tenant, r.ProductID)
	var out []Draft
	for _, u := range r.Users {
		out = append(out, Draft{UserID: u, Kind: KindRequestExpiring, Subject: "License request expiring: " + product,
			Text: fmt.Sprintf("The request for %s is still waiting for a decision and expires on %s.\n", product,
				e.ExpiresAt.UTC().Format(time.DateOnly)),
			Refs: Refs{RequestID: e.RequestID, ProductID: r.ProductID}})
	}
	return out, nil
}

func requestExpired(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.RequestExpired)
	r, ok := l.Request(env.Tenant, e.RequestID)
	if !ok {
		return nil, nil
	}
	product := l.ProductName(env.Tenant, r.ProductID)
	var out []Draft
	for _, u := range r.Users {
		out = append(out, Draft{UserID: u, Kind: KindRequestExpired, Subject: "License request expired: " + product,
			Text: fmt.Sprintf("The request for %s was not decided in time and has expired. You may submit a new one.\n", product),
			Refs: Refs{RequestID: e.RequestID, ProductID: r.ProductID}})
	}
	return out, nil
}

// licenseClaimed tells each user who claimed (one, or several decided
// together) of their license.
func licenseClaimed(l Lookup, env events.Envelope) ([]Draft, error) {
	claims := events.Claims(env.Data)
	out := make([]Draft, 0, len(claims))
	var subject, text string
	for i, e := range claims {
		// The claims of a batch share their product and app, and so
		// their mail's words: made once.
		if i == 0 || e.ProductID != claims[i-1].ProductID || e.App != claims[i-1].App {
			product := l.ProductName(env.Tenant, e.ProductID)
			subject, text = "You have a license of "+product, fmt.Sprintf("Signing in to %s gave you a license of %s.\n", e.App, product)
		}
		out = append(out, Draft{UserID: e.UserID, Kind: KindLicenseClaimed, Subject: subject, Text: text,
			Refs: Refs{PolicyID: e.PolicyID, ProductID: e.ProductID}})
	}
	return out, nil
}

// MsgID is the Nats-Msg-Id of a notification: one per event, kind and
// recipient.
func MsgID(eventID, kind, userID string) string { return eventID + ":" + kind + ":" + userID }

// Subject is the notify subject of a tenant.
func Subject(tenant string) string { return "sf.notify." + tenant + ".email" }

// Address turns drafts into notifications; users without a directory
// address are skipped (and reported).
func Address(l Lookup, env events.Envelope, drafts []Draft) (out []Notification, skipped []string) {
	seen := map[string]bool{}
	for _, d := range drafts {
		id := MsgID(env.ID, d.Kind, d.UserID)
		if seen[id] {
			continue
		}
		seen[id] = true
		email := d.Email
		if email == "" {
			u, ok := l.User(env.Tenant, d.UserID)
			if !ok || u.Email == "" {
				skipped = append(skipped, d.UserID)
				continue
			}
			email = u.Email
		}
		out = append(out, Notification{ID: id, Kind: d.Kind, To: []string{email}, Subject: d.Subject, Text: d.Text,
			Refs: d.Refs, EventID: env.ID})
	}
	return out, skipped
}

// LinkBase builds share links as <base>/shared/<token>: the page where the
// recipient reads the request and answers it (through POST
// /v1/shared/<token>).
func LinkBase(base string, signer *sharelink.Signer) func(sharelink.Claims) (string, error) {
	base = strings.TrimRight(base, "/")
	return func(c sharelink.Claims) (string, error) {
		tok, err := signer.Sign(c)
		if err != nil {
			return "", err
		}
		return base + "/shared/" + url.PathEscape(tok), nil
	}
}
