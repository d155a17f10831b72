package events

// Wire names of the group aggregate's event types (sf.evt.<tenant>.group.<id>).
// They never change.
const (
	TypeGroupChanged = "GroupChanged"
	TypeGroupDeleted = "GroupDeleted"
)

// GroupChanged records a security group's whole new state.
type GroupChanged struct {
	GroupID  string          `json:"group_id"`
	Name     string          `json:"name"`
	Members  []string        `json:"members"`
	Products []PolicyProduct `json:"products"`
}

// GroupDeleted records, on a group aggregate, that the group was deleted. A
// GroupChanged without members or products precedes it in the same append,
// releasing the licenses the group gave.
type GroupDeleted struct {
	GroupID string `json:"group_id"`
}

func (GroupChanged) EventType() string { return TypeGroupChanged }
func (GroupDeleted) EventType() string { return TypeGroupDeleted }

func (GroupChanged) EventVersion() int { return 1 }
func (GroupDeleted) EventVersion() int { return 1 }

// registerGroup adds the group aggregate's event types to r.
func registerGroup(r *Registry) {
	Register[GroupChanged](r)
	Register[GroupDeleted](r)
}
