package domain

import (
	"errors"
	"fmt"
)

// ErrConcurrency means another writer appended to the aggregate first. The
// Service retries such commands itself; callers see it only when the retries
// run out.
var ErrConcurrency = errors.New("concurrent write to the same aggregate")

// ErrUnavailable means the event store could not be reached or did not
// answer in time. For an append, the outcome is unknown: retry with the same
// command ID.
var ErrUnavailable = errors.New("event store unavailable")

// ErrNoLicensesAvailable means the command needs a free seat of a product and
// the product has none.
var ErrNoLicensesAvailable = errors.New("no licenses available")

// ErrAlreadyExists means the command creates something that already exists.
var ErrAlreadyExists = errors.New("already exists")

// ErrAlreadyAssigned means the user already holds a license of the product.
var ErrAlreadyAssigned = errors.New("user already holds a license of this product")

// ErrBelowAssigned means removing licenses would leave fewer purchased than
// assigned.
var ErrBelowAssigned = errors.New("cannot remove licenses that are assigned")

// ErrOutcomeUnknown wraps ErrUnavailable when an append was sent but its
// acknowledgement never came: the events may or may not stand. Repeating
// the command with the same command ID is safe: it either finds them and
// answers as the first time, or appends them once.
var ErrOutcomeUnknown = errors.New("the write may or may not have been stored")

// ErrRolesNeedGlobalAdmin is returned when a command would grant or take
// away a directory user's roles and its issuer is not a global admin.
var ErrRolesNeedGlobalAdmin = errors.New("only a global admin may grant or take away directory roles")

// NotFoundError says which thing does not exist.
type NotFoundError struct {
	Kind string
	ID   string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.ID) }

// ValidationError says which field of a command is invalid and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
