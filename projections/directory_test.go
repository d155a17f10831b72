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

// TestDirectoryUserByLogin: an identity provider's sign-in finds the user
// it provisioned by userName (any case), else by externalId, else by
// email; a renamed or deleted user is found no more by its old names, and
// a snapshot keeps the indexes.
func TestDirectoryUserByLogin(t *testing.T) {
	u := events.KindUser
	d := projections.NewDirectory()
	for _, e := range []events.Envelope{
		env("contoso", u, "01SCIM", events.UserRegistered{UserID: "01SCIM", Email: "ann.lee@contoso.com", DisplayName: "Ann", Roles: []string{}}),
		env("contoso", u, "01SCIM", events.UserProvisioned{UserID: "01SCIM", UserName: "Ann.Lee@Contoso.com", ExternalID: "00u1ae58uup0y5Qkg1d8", Active: true}),
		env("contoso", u, "bob", events.UserRegistered{UserID: "bob", Email: "Bob.Ray@contoso.com", DisplayName: "Bob", Roles: []string{}}),
		env("fabrikam", u, "01OTHER", events.UserRegistered{UserID: "01OTHER", Email: "x@fabrikam.com", DisplayName: "X", Roles: []string{}}),
		env("fabrikam", u, "01OTHER", events.UserProvisioned{UserID: "01OTHER", UserName: "ann.lee@contoso.com", Active: true}),
	} {
		d.Apply(e)
	}
	find := func(d *projections.Directory, login, ext string) string {
		got, _ := d.UserByLogin("contoso", login, ext)
		return got.UserID
	}
	for _, c := range []struct{ login, ext, want string }{
		{"ann.lee@contoso.com", "", "01SCIM"},
		{"ANN.LEE@CONTOSO.COM", "other", "01SCIM"},
		{"ann@old-domain.com", "00u1ae58uup0y5Qkg1d8", "01SCIM"},
		{"ann@old-domain.com", "00U1AE58UUP0Y5QKG1D8", ""},
		{"bob.ray@contoso.com", "", "bob"},
		{"x@fabrikam.com", "", ""},
		{"", "", ""},
	} {
		if got := find(d, c.login, c.ext); got != c.want {
			t.Errorf("UserByLogin(%q, %q) = %q, want %q", c.login, c.ext, got, c.want)
		}
	}
	d.Apply(env("contoso", u, "01SCIM", events.UserProvisioned{UserID: "01SCIM", UserName: "ann.smith@contoso.com", ExternalID: "00u1ae58uup0y5Qkg1d8", Active: true}))
	if got := find(d, "Ann.Lee@Contoso.com", ""); got != "01SCIM" {
		t.Errorf("after a rename, the old login finds %q by the email, want 01SCIM", got)
	}
	if got := find(d, "ann.smith@contoso.com", ""); got != "01SCIM" {
		t.Errorf("after a rename, the new login finds %q", got)
	}
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := projections.NewDirectory()
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got := find(r, "ann.smith@contoso.com", ""); got != "01SCIM" {
		t.Errorf("restored directory finds %q", got)
	}
	d.Apply(env("contoso", u, "01SCIM", events.UserDeleted{UserID: "01SCIM"}))
	for _, c := range [][2]string{{"ann.smith@contoso.com", ""}, {"", "00u1ae58uup0y5Qkg1d8"}, {"ann.lee@contoso.com", ""}} {
		if got := find(d, c[0], c[1]); got != "" {
			t.Errorf("a deleted user is found by %v: %q", c, got)
		}
	}
}
