package events

// Wire names of the identity-provider event types. They never change.
const (
	TypeIdentityAppsMapped = "IdentityAppsMapped"
)

// Identity providers whose sign-in events Seatflow reads
// (POST /v1/hooks/okta, POST /v1/hooks/entra).
const (
	ProviderOkta  = "okta"
	ProviderEntra = "entra"
)

// IdentityApp maps one application of an identity provider to the Seatflow
// app its sign-ins count for. ProviderAppID is the provider's own id of the
// application: Okta's app instance id (the AppInstance target of a
// user.authentication.sso event, "0oa…"), or Entra ID's application (client)
// id, a GUID kept in lower case.
type IdentityApp struct {
	Provider      string `json:"provider"`
	ProviderAppID string `json:"provider_app_id"`
	App           string `json:"app"`
}

// IdentityAppsMapped records, on the org aggregate, the organisation's whole
// mapping from identity-provider applications to Seatflow apps, replacing
// the one before (an empty list unmaps every application). Mappings are
// sorted by provider and provider app id, each pair at most once; several
// provider applications may count for the same Seatflow app. A sign-in
// event for an application the mapping does not name is ignored.
type IdentityAppsMapped struct {
	Mappings []IdentityApp `json:"mappings"`
}

func (IdentityAppsMapped) EventType() string { return TypeIdentityAppsMapped }
func (IdentityAppsMapped) EventVersion() int { return 1 }

// registerIdentity adds the identity-provider types of this file to r.
func registerIdentity(r *Registry) {
	Register[IdentityAppsMapped](r)
}
