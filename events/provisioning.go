package events

// Wire names of the provisioning event types (SCIM 2.0 from an identity
// provider). They never change.
const (
	TypeUserProvisioned = "UserProvisioned"
	TypeUserDeleted     = "UserDeleted"
	TypeGroupDeleted    = "GroupDeleted"
)

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

// GroupDeleted records, on a group aggregate, that the group was deleted. A
// GroupChanged without members or products precedes it in the same append,
// releasing the licenses the group gave.
type GroupDeleted struct {
	GroupID string `json:"group_id"`
}

func (GroupDeleted) EventType() string    { return TypeGroupDeleted }
func (GroupDeleted) EventVersion() int    { return 1 }
func (UserProvisioned) EventType() string { return TypeUserProvisioned }
func (UserProvisioned) EventVersion() int { return 1 }
func (UserDeleted) EventType() string     { return TypeUserDeleted }
func (UserDeleted) EventVersion() int     { return 1 }

// registerProvisioning adds the provisioning types of this file to r.
func registerProvisioning(r *Registry) {
	Register[UserProvisioned](r)
	Register[UserDeleted](r)
	Register[GroupDeleted](r)
}
