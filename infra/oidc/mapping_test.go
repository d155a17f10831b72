package oidc_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/oidc"
)

// claimsOf decodes an ID token payload as go-oidc hands it over.
func claimsOf(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("claims %s: %v", js, err)
	}
	return m
}

// directory knows ada by her address in tenant acme.
func directory(tenant, email string) (string, bool) {
	if tenant == "acme" && email == "ada.lovelace@acme.example" {
		return "01JDQ3ZK5Y9M6T4W8X2C7N1B0A", true
	}
	return "", false
}

func TestPrincipal(t *testing.T) {
	roleMap := map[string][]string{
		"seatflow-admins":   {auth.RoleGlobalAdmin},
		"license-desk":      {auth.RoleLicenseAdmin},
		"helpdesk":          {auth.RoleUserAdmin, auth.RoleLicenseAdmin},
		"Seatflow.Approver": {auth.RoleUserAdmin},
	}
	fixed := oidc.Mapping{Tenant: "acme", RoleMap: roleMap}
	byClaim := oidc.Mapping{TenantClaim: "org", RoleMap: roleMap}
	cases := []struct {
		name    string
		mapping oidc.Mapping
		claims  string
		want    auth.Claims
		err     string // "": no error; else a part of the ErrUnmapped error
	}{
		{"fixed tenant, plain user", fixed, `{"sub":"00u1","groups":["everyone"]}`,
			auth.Claims{Tenant: "acme", Subject: "00u1", Roles: []string{"user"}}, ""},
		{"no groups claim: a plain user", fixed, `{"sub":"00u1"}`,
			auth.Claims{Tenant: "acme", Subject: "00u1", Roles: []string{"user"}}, ""},
		{"null groups claim", fixed, `{"sub":"00u1","groups":null}`,
			auth.Claims{Tenant: "acme", Subject: "00u1", Roles: []string{"user"}}, ""},
		{"admin group", fixed, `{"sub":"00u2","groups":["everyone","seatflow-admins"]}`,
			auth.Claims{Tenant: "acme", Subject: "00u2", Roles: []string{"global-admin", "user"}}, ""},
		{"one group, two roles, in auth.Roles order, no repeats", fixed, `{"sub":"00u3","groups":["license-desk","helpdesk"]}`,
			auth.Claims{Tenant: "acme", Subject: "00u3", Roles: []string{"user-admin", "license-admin", "user"}}, ""},
		{"values are case-sensitive", fixed, `{"sub":"00u4","groups":["SEATFLOW-ADMINS"]}`,
			auth.Claims{Tenant: "acme", Subject: "00u4", Roles: []string{"user"}}, ""},
		{"one string instead of a list", fixed, `{"sub":"00u5","groups":"license-desk"}`,
			auth.Claims{Tenant: "acme", Subject: "00u5", Roles: []string{"license-admin", "user"}}, ""},
		{"Entra app roles claim", oidc.Mapping{Tenant: "acme", RolesClaim: "roles", RoleMap: roleMap},
			`{"sub":"AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ","roles":["Seatflow.Approver"],"groups":["seatflow-admins"]}`,
			auth.Claims{Tenant: "acme", Subject: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", Roles: []string{"user-admin", "user"}}, ""},
		{"nested roles claim", oidc.Mapping{Tenant: "acme", RolesClaim: "realm_access.roles", RoleMap: roleMap},
			`{"sub":"k-1","realm_access":{"roles":["offline_access","seatflow-admins"]}}`,
			auth.Claims{Tenant: "acme", Subject: "k-1", Roles: []string{"global-admin", "user"}}, ""},
		{"a URL as claim name", oidc.Mapping{Tenant: "acme", RolesClaim: "https://seatflow.example/roles", RoleMap: roleMap},
			`{"sub":"auth0-1","https://seatflow.example/roles":["license-desk"]}`,
			auth.Claims{Tenant: "acme", Subject: "auth0-1", Roles: []string{"license-admin", "user"}}, ""},
		{"tenant from a claim", byClaim, `{"sub":"u-1","org":"contoso","groups":["seatflow-admins"]}`,
			auth.Claims{Tenant: "contoso", Subject: "u-1", Roles: []string{"global-admin", "user"}}, ""},
		{"Entra tenant id as tenant", oidc.Mapping{TenantClaim: "tid"}, `{"sub":"u-1","tid":"72f988bf-86f1-41af-91ab-2d7cd011db47"}`,
			auth.Claims{Tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47", Subject: "u-1", Roles: []string{"user"}}, ""},
		{"user from preferred_username", oidc.Mapping{Tenant: "acme", UserClaim: "preferred_username"}, `{"sub":"x","preferred_username":"ada_l"}`,
			auth.Claims{Tenant: "acme", Subject: "ada_l", Roles: []string{"user"}}, ""},
		{"e-mail found in the directory", oidc.Mapping{Tenant: "acme", UserClaim: "email"}, `{"sub":"x","email":"ada.lovelace@acme.example"}`,
			auth.Claims{Tenant: "acme", Subject: "01JDQ3ZK5Y9M6T4W8X2C7N1B0A", Roles: []string{"user"}}, ""},
		{"e-mail without dots not in the directory: taken as the id", oidc.Mapping{Tenant: "acme", UserClaim: "email"}, `{"sub":"x","email":"ada@localhost"}`,
			auth.Claims{Tenant: "acme", Subject: "ada@localhost", Roles: []string{"user"}}, ""},
		{"numeric user id", oidc.Mapping{Tenant: "acme", UserClaim: "uid"}, `{"sub":"x","uid":583231}`,
			auth.Claims{Tenant: "acme", Subject: "583231", Roles: []string{"user"}}, ""},

		{"e-mail of nobody in the directory", oidc.Mapping{Tenant: "acme", UserClaim: "email"}, `{"sub":"x","email":"eve@elsewhere.example"}`,
			auth.Claims{}, `the user claim "email" is "eve@elsewhere.example", which is neither a user id`},
		{"e-mail of a user of another tenant", oidc.Mapping{TenantClaim: "org", UserClaim: "email"}, `{"org":"contoso","email":"ada.lovelace@acme.example"}`,
			auth.Claims{}, "directory of contoso"},
		{"no user claim", oidc.Mapping{Tenant: "acme", UserClaim: "email"}, `{"sub":"x"}`, auth.Claims{}, `the ID token has no claim "email"`},
		{"empty user claim", fixed, `{"sub":""}`, auth.Claims{}, `the claim "sub" is string , want a non-empty string`},
		{"user claim not a string", oidc.Mapping{Tenant: "acme", UserClaim: "email"}, `{"email":["a"]}`, auth.Claims{}, `the claim "email" is []interface {}`},
		{"fractional user id", oidc.Mapping{Tenant: "acme", UserClaim: "uid"}, `{"uid":1.5}`, auth.Claims{}, `the claim "uid" is float64 1.5`},
		{"user id with a dot", fixed, `{"sub":"ada.lovelace"}`, auth.Claims{}, `"ada.lovelace", which is neither a user id`},
		{"user id with a wildcard", fixed, `{"sub":"a*"}`, auth.Claims{}, "which is neither a user id"},
		{"no tenant claim", byClaim, `{"sub":"u-1"}`, auth.Claims{}, `the ID token has no claim "org"`},
		{"tenant claim not a tenant id", byClaim, `{"sub":"u-1","org":"Contoso Ltd"}`, auth.Claims{}, `the tenant claim "org" is "Contoso Ltd", which is no tenant id`},
		{"groups of numbers", fixed, `{"sub":"u-1","groups":[1,2]}`, auth.Claims{}, `the claim "groups" holds float64 1, want strings`},
		{"groups an object", fixed, `{"sub":"u-1","groups":{"a":1}}`, auth.Claims{}, `the claim "groups" is map[string]interface {}, want a list of strings`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.mapping.Principal(claimsOf(t, tc.claims), directory)
			if tc.err != "" {
				if !errors.Is(err, auth.ErrUnmapped) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %+v, %v; want an error wrapping ErrUnmapped mentioning %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// Without a directory an e-mail address is an id only when it is one.
func TestPrincipalWithoutDirectory(t *testing.T) {
	m := oidc.Mapping{Tenant: "acme", UserClaim: "email"}
	if _, err := m.Principal(claimsOf(t, `{"email":"ada.lovelace@acme.example"}`), nil); !errors.Is(err, auth.ErrUnmapped) {
		t.Fatalf("got %v, want ErrUnmapped", err)
	}
}

func TestParseRoleMap(t *testing.T) {
	cases := []struct {
		in   string
		want map[string][]string
		err  string
	}{
		{"", map[string][]string{}, ""},
		{"group-a=global-admin, group-b=license-admin ,", map[string][]string{"group-a": {"global-admin"}, "group-b": {"license-admin"}}, ""},
		{"helpdesk=user-admin,helpdesk=license-admin,helpdesk=user-admin", map[string][]string{"helpdesk": {"user-admin", "license-admin"}}, ""},
		{"a=b=global-admin", map[string][]string{"a=b": {"global-admin"}}, ""},
		{"Seatflow Admins=global-admin", map[string][]string{"Seatflow Admins": {"global-admin"}}, ""},
		{"everyone=user", map[string][]string{"everyone": {"user"}}, ""},
		{"group-a=global_admin", nil, `role "global_admin" is not one of global-admin, user-admin, license-admin, user`},
		{"robots=ingest", nil, `role "ingest" is not one of`},
		{"idp=scim", nil, `role "scim" is not one of`},
		{"group-a", nil, `"group-a" is not value=role`},
		{"=global-admin", nil, "is not value=role"},
		{"group-a=", nil, "is not value=role"},
	}
	for _, tc := range cases {
		got, err := oidc.ParseRoleMap(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRoleMap(%q): got %v, %v; want an error mentioning %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRoleMap(%q): got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestMappingValidate(t *testing.T) {
	cases := map[string]struct {
		m   oidc.Mapping
		err string
	}{
		"fixed tenant":    {oidc.Mapping{Tenant: "acme"}, ""},
		"tenant claim":    {oidc.Mapping{TenantClaim: "org"}, ""},
		"neither":         {oidc.Mapping{}, "the tenant is needed"},
		"both":            {oidc.Mapping{Tenant: "acme", TenantClaim: "org"}, "exclude each other"},
		"bad tenant":      {oidc.Mapping{Tenant: "Acme"}, `tenant "Acme" is not valid`},
		"a machine role":  {oidc.Mapping{Tenant: "acme", RoleMap: map[string][]string{"x": {"ingest"}}}, `"x" maps to role "ingest"`},
		"an unknown role": {oidc.Mapping{Tenant: "acme", RoleMap: map[string][]string{"x": {"root"}}}, `role "root"`},
	}
	for name, tc := range cases {
		err := tc.m.Validate()
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: got %v, want %q", name, err, tc.err)
		}
	}
}
