package events

// Wire names of the user aggregate's event types (sf.evt.<tenant>.user.<id>).
// They never change.
const (
	TypeUserRegistered  = "UserRegistered"
	TypeUserProvisioned = "UserProvisioned"
	TypeUserDeleted     = "UserDeleted"
)

// UserRegistered records a directory user created or updated. Roles are the
// admin roles the user holds in the organisation (global-admin, user-admin,
// license-admin); notifications for admins go to them.
type UserRegistered struct {
	UserID      string   `json:"user_id"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
}

// UserProvisioned records, on a user aggregate, the attributes an identity
// provider keeps for a directory user beyond UserRegistered's: its login
// name, its own id for the user, and whether the account is active. It is
// appended by SCIM provisioning whenever one of them changes; a user that
// never had one is active and has no user name or external id. An inactive
// user holds no licenses (they were released when it was deactivated).
type UserProvisioned struct {
	UserID     string `json:"user_id"`
	UserName   string `json:"user_name"`
	ExternalID string `json:"external_id"`
	Active     bool   `json:"active"`
}

// UserDeleted records, on a user aggregate, that the identity provider
// deleted the user: it leaves the directory and its groups, and its
// licenses were released in the same append. SCIM never reuses the id; a
// later UserRegistered of it (PUT /v1/users) registers the user anew.
type UserDeleted struct {
	UserID string `json:"user_id"`
}

func (UserRegistered) EventType() string  { return TypeUserRegistered }
func (UserProvisioned) EventType() string { return TypeUserProvisioned }
func (UserDeleted) EventType() string     { return TypeUserDeleted }

func (UserRegistered) EventVersion() int  { return 1 }
func (UserProvisioned) EventVersion() int { return 1 }
func (UserDeleted) EventVersion() int     { return 1 }

// registerUser adds the user aggregate's event types to r.
func registerUser(r *Registry) {
	Register[UserRegistered](r)
	Register[UserProvisioned](r)
	Register[UserDeleted](r)
}
