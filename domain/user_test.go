package domain_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// TestDecideUser: given a directory user, when a registration, then its
// events or error. Roles change only by a global admin's hand.
func TestDecideUser(t *testing.T) {
	admin := func() *domain.User {
		u := &domain.User{ID: "u1"}
		domain.EvolveUser(u, events.Envelope{Data: events.UserRegistered{UserID: "u1", Email: "u1@example.com", DisplayName: "U", Roles: []string{"global-admin"}}})
		return u
	}
	reg := func(email string, roles ...string) []events.Data {
		if roles == nil {
			roles = []string{}
		}
		return []events.Data{events.UserRegistered{UserID: "u1", Email: email, DisplayName: "U", Roles: roles}}
	}
	for _, tc := range []struct {
		name    string
		given   *domain.User
		when    domain.RegisterUser
		want    []events.Data
		wantErr error
	}{
		{"new user without roles by a user admin", &domain.User{ID: "u1"}, domain.RegisterUser{Email: "U1@example.com", DisplayName: "U"}, reg("u1@example.com"), nil},
		{"new user with a role by a user admin", &domain.User{ID: "u1"}, domain.RegisterUser{Email: "u1@example.com", DisplayName: "U", Roles: []string{"global-admin"}}, nil, domain.ErrRolesNeedGlobalAdmin},
		{"new user with a role by a global admin", &domain.User{ID: "u1"}, domain.RegisterUser{Email: "u1@example.com", DisplayName: "U", Roles: []string{"global-admin"}, ByGlobalAdmin: true}, reg("u1@example.com", "global-admin"), nil},
		{"email change keeping roles by a user admin", admin(), domain.RegisterUser{Email: "new@example.com", DisplayName: "U", KeepRoles: true}, reg("new@example.com", "global-admin"), nil},
		{"roles taken away by a user admin", admin(), domain.RegisterUser{Email: "u1@example.com", DisplayName: "U", Roles: []string{}}, nil, domain.ErrRolesNeedGlobalAdmin},
		{"roles taken away by a global admin", admin(), domain.RegisterUser{Email: "u1@example.com", DisplayName: "U", Roles: []string{}, ByGlobalAdmin: true}, reg("u1@example.com"), nil},
		{"nothing changes", admin(), domain.RegisterUser{Email: "u1@example.com", DisplayName: "U", Roles: []string{"global-admin"}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.DecideUser(tc.given, tc.when)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("events: got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDecideSignInUser: a sign-in registers an unknown user and never
// touches a known one.
func TestDecideSignInUser(t *testing.T) {
	known := &domain.User{ID: "u1"}
	domain.EvolveUser(known, events.Envelope{Data: events.UserRegistered{UserID: "u1", Email: "u1@example.com", DisplayName: "U", Roles: []string{"user-admin"}}})
	if got, err := domain.DecideSignInUser(known, "attacker@evil.example", "Evil"); err != nil || got != nil {
		t.Fatalf("known user: got %+v, %v; want nothing", got, err)
	}
	got, err := domain.DecideSignInUser(&domain.User{ID: "u2"}, "u2@example.com", "U2")
	if err != nil || len(got) != 1 {
		t.Fatalf("new user: got %+v, %v", got, err)
	}
}
