package projections_test

import (
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// TestDirectoryProvisioning: the directory keeps what SCIM provisioned,
// takes a deactivated admin off the admins list, forgets a deleted user
// (by id and by email) and a deleted group (and the users' group lists),
// and a snapshot restores the same.
func TestDirectoryProvisioning(t *testing.T) {
	u, g := events.KindUser, events.KindGroup
	d := projections.NewDirectory()
	for _, e := range []events.Envelope{
		env("contoso", u, "u1", events.UserRegistered{UserID: "u1", Email: "Ann@example.com", DisplayName: "Ann", Roles: []string{"user-admin"}}),
		env("contoso", u, "u1", events.UserProvisioned{UserID: "u1", UserName: "ann", ExternalID: "x1", Active: true}),
		env("contoso", u, "u2", events.UserRegistered{UserID: "u2", Email: "bob@example.com", DisplayName: "Bob", Roles: []string{}}),
		env("contoso", g, "g1", events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u1", "u2"}, Products: []events.PolicyProduct{}}),
	} {
		d.Apply(e)
	}
	got, _ := d.User("contoso", "u1")
	if got.UserName != "ann" || got.ExternalID != "x1" || got.Inactive || len(d.Admins("contoso")) != 1 {
		t.Fatalf("provisioned: %+v, admins %v", got, d.Admins("contoso"))
	}
	d.Apply(env("contoso", u, "u1", events.UserProvisioned{UserID: "u1", UserName: "ann", ExternalID: "x1", Active: false}))
	if got, _ := d.User("contoso", "u1"); !got.Inactive || len(d.Admins("contoso")) != 0 {
		t.Fatalf("deactivated: %+v, admins %v", got, d.Admins("contoso"))
	}
	d.Apply(env("contoso", g, "g1", events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u2"}, Products: []events.PolicyProduct{}}))
	d.Apply(env("contoso", u, "u1", events.UserDeleted{UserID: "u1"}))
	if _, ok := d.User("contoso", "u1"); ok {
		t.Fatal("deleted user still listed by id")
	}
	if _, ok := d.UserByEmail("contoso", "ann@example.com"); ok {
		t.Fatal("deleted user still listed by email")
	}
	d.Apply(env("contoso", g, "g1", events.GroupDeleted{GroupID: "g1"}))
	if _, ok := d.Group("contoso", "g1"); ok {
		t.Fatal("deleted group still listed")
	}
	if bob, _ := d.User("contoso", "u2"); len(bob.Groups) != 0 {
		t.Fatalf("bob's groups after the group's deletion: %v", bob.Groups)
	}
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := projections.NewDirectory()
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Users("contoso"), d.Users("contoso")) {
		t.Fatalf("restored %+v, want %+v", r.Users("contoso"), d.Users("contoso"))
	}
}
