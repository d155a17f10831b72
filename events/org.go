package events

// Wire names of the org aggregate's event types (sf.evt.<tenant>.org.org).
// They never change.
const (
	TypeRequestProcessChanged   = "RequestProcessChanged"
	TypeAutoClaimSettingChanged = "AutoClaimSettingChanged"
	TypeAppPolicyBound          = "AppPolicyBound"
	TypeAppPolicyUnbound        = "AppPolicyUnbound"
)

// Request process modes.
const (
	ProcessBuiltin = "builtin"
	ProcessOwn     = "own"
)

// RequestProcessChanged records whether the org collects requests in Seatflow
// ("builtin") or sends users to its own process ("own") with a message and
// documentation link.
type RequestProcessChanged struct {
	Mode    string `json:"mode"`
	Message string `json:"message"`
	Link    string `json:"link"`
}

// AutoClaimSettingChanged records the organisation-wide auto-claim switch.
type AutoClaimSettingChanged struct {
	Enabled bool `json:"enabled"`
}

// AppPolicyBound records, on the org aggregate, that PolicyID is the one
// enabled auto-claim policy of App. It is appended in the same transaction
// as the PolicyCreated or PolicyStatusChanged that enables the policy, so
// the org's concurrency check keeps a second policy from taking the app.
type AppPolicyBound struct {
	App      string `json:"app"`
	PolicyID string `json:"policy_id"`
}

// AppPolicyUnbound records, on the org aggregate, that PolicyID no longer
// serves App (it was turned off).
type AppPolicyUnbound struct {
	App      string `json:"app"`
	PolicyID string `json:"policy_id"`
}

func (RequestProcessChanged) EventType() string   { return TypeRequestProcessChanged }
func (AutoClaimSettingChanged) EventType() string { return TypeAutoClaimSettingChanged }
func (AppPolicyBound) EventType() string          { return TypeAppPolicyBound }
func (AppPolicyUnbound) EventType() string        { return TypeAppPolicyUnbound }

func (RequestProcessChanged) EventVersion() int   { return 1 }
func (AutoClaimSettingChanged) EventVersion() int { return 1 }
func (AppPolicyBound) EventVersion() int          { return 1 }
func (AppPolicyUnbound) EventVersion() int        { return 1 }

// registerOrg adds the org aggregate's event types to r.
func registerOrg(r *Registry) {
	Register[RequestProcessChanged](r)
	Register[AutoClaimSettingChanged](r)
	Register[AppPolicyBound](r)
	Register[AppPolicyUnbound](r)
}
