package projections

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/seatflow/seatflow/events"
)

// NameDirectory is the directory read model's name.
const NameDirectory = "directory"

// DirectoryUser is one directory user with the groups they belong to.
type DirectoryUser struct {
	UserID      string   `json:"user_id"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
	Groups      []string `json:"groups"`
	// UserName, ExternalID and Inactive are what an identity provider
	// provisioned the user with (UserProvisioned); empty and false for a
	// user it never provisioned.
	UserName   string `json:"user_name,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	Inactive   bool   `json:"inactive,omitempty"`
}

// IsAdmin reports whether the user holds an admin role and is active.
func (u DirectoryUser) IsAdmin() bool { return len(u.Roles) > 0 && !u.Inactive }

// DirectoryGroup is one security group.
type DirectoryGroup struct {
	GroupID  string                 `json:"group_id"`
	Name     string                 `json:"name"`
	Members  []string               `json:"members"`
	Products []events.PolicyProduct `json:"products"`
}

type directoryTenant struct {
	Users  map[string]*DirectoryUser  `json:"users"`
	Groups map[string]*DirectoryGroup `json:"groups"`
	Emails map[string]string          `json:"emails"` // lower-case email -> user id
	// UserNames and ExternalIDs index what an identity provider
	// provisioned: lower-case userName -> user id, externalId -> user id.
	UserNames   map[string]string `json:"user_names"`
	ExternalIDs map[string]string `json:"external_ids"`
}

// Directory is the read model of directory users (by id and by email, with
// their roles and groups) and security groups.
type Directory struct {
	mu      sync.RWMutex
	tenants map[string]*directoryTenant
}

// NewDirectory returns an empty Directory.
func NewDirectory() *Directory { return &Directory{tenants: map[string]*directoryTenant{}} }

// Name implements Projection.
func (*Directory) Name() string { return NameDirectory }

// Version implements Snapshotter.
func (*Directory) Version() int { return 3 }

// Snapshot implements Snapshotter.
func (d *Directory) Snapshot() ([]byte, error) {
	return snapshotJSON(&d.mu, d.tenants)
}

// Restore implements Snapshotter.
func (d *Directory) Restore(b []byte) error {
	return restoreJSON(NameDirectory, &d.mu, b, &d.tenants)
}

func (d *Directory) tenant(t string) *directoryTenant {
	dt := d.tenants[t]
	if dt == nil {
		dt = &directoryTenant{Users: map[string]*DirectoryUser{}, Groups: map[string]*DirectoryGroup{}, Emails: map[string]string{},
			UserNames: map[string]string{}, ExternalIDs: map[string]string{}}
		d.tenants[t] = dt
	}
	return dt
}

// Apply implements Projection.
func (d *Directory) Apply(env events.Envelope) {
	switch e := env.Data.(type) {
	case events.UserRegistered:
		d.mu.Lock()
		defer d.mu.Unlock()
		dt := d.tenant(env.Tenant)
		u := dt.Users[e.UserID]
		if u == nil {
			u = &DirectoryUser{UserID: e.UserID, Groups: []string{}}
			dt.Users[e.UserID] = u
		}
		if dt.Emails[strings.ToLower(u.Email)] == e.UserID {
			delete(dt.Emails, strings.ToLower(u.Email))
		}
		u.Email, u.DisplayName, u.Roles = e.Email, e.DisplayName, slices.Clone(e.Roles)
		if u.Roles == nil {
			u.Roles = []string{}
		}
		dt.Emails[strings.ToLower(e.Email)] = e.UserID
	case events.UserProvisioned:
		d.mu.Lock()
		defer d.mu.Unlock()
		dt := d.tenant(env.Tenant)
		if u := dt.Users[e.UserID]; u != nil {
			dt.unindexProvisioned(u)
			u.UserName, u.ExternalID, u.Inactive = e.UserName, e.ExternalID, !e.Active
			if u.UserName != "" {
				dt.UserNames[strings.ToLower(u.UserName)] = u.UserID
			}
			if u.ExternalID != "" {
				dt.ExternalIDs[u.ExternalID] = u.UserID
			}
		}
	case events.UserDeleted:
		d.mu.Lock()
		defer d.mu.Unlock()
		dt := d.tenant(env.Tenant)
		if u := dt.Users[e.UserID]; u != nil {
			if dt.Emails[strings.ToLower(u.Email)] == e.UserID {
				delete(dt.Emails, strings.ToLower(u.Email))
			}
			dt.unindexProvisioned(u)
			delete(dt.Users, e.UserID)
		}
	case events.GroupDeleted:
		d.mu.Lock()
		defer d.mu.Unlock()
		dt := d.tenant(env.Tenant)
		if old := dt.Groups[e.GroupID]; old != nil {
			for _, m := range old.Members {
				if u := dt.Users[m]; u != nil {
					u.Groups = slices.DeleteFunc(u.Groups, func(g string) bool { return g == e.GroupID })
				}
			}
			delete(dt.Groups, e.GroupID)
		}
	case events.GroupChanged:
		d.mu.Lock()
		defer d.mu.Unlock()
		dt := d.tenant(env.Tenant)
		if old := dt.Groups[e.GroupID]; old != nil {
			for _, m := range old.Members {
				if u := dt.Users[m]; u != nil {
					u.Groups = slices.DeleteFunc(u.Groups, func(g string) bool { return g == e.GroupID })
				}
			}
		}
		dt.Groups[e.GroupID] = &DirectoryGroup{GroupID: e.GroupID, Name: e.Name, Members: slices.Clone(e.Members), Products: slices.Clone(e.Products)}
		for _, m := range e.Members {
			if u := dt.Users[m]; u != nil && !slices.Contains(u.Groups, e.GroupID) {
				u.Groups = append(u.Groups, e.GroupID)
				slices.Sort(u.Groups)
			}
		}
	}
}

// unindexProvisioned forgets u's userName and externalId, where they
// still point at u.
func (dt *directoryTenant) unindexProvisioned(u *DirectoryUser) {
	if dt.UserNames == nil {
		dt.UserNames = map[string]string{}
	}
	if dt.ExternalIDs == nil {
		dt.ExternalIDs = map[string]string{}
	}
	if k := strings.ToLower(u.UserName); dt.UserNames[k] == u.UserID {
		delete(dt.UserNames, k)
	}
	if dt.ExternalIDs[u.ExternalID] == u.UserID {
		delete(dt.ExternalIDs, u.ExternalID)
	}
}

func (u *DirectoryUser) view() DirectoryUser {
	v := *u
	v.Roles, v.Groups = slices.Clone(u.Roles), slices.Clone(u.Groups)
	if v.Roles == nil {
		v.Roles = []string{}
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	return v
}

// User returns a directory user by id.
func (d *Directory) User(tenant, id string) (DirectoryUser, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	dt := d.tenants[tenant]
	if dt == nil || dt.Users[id] == nil {
		return DirectoryUser{}, false
	}
	return dt.Users[id].view(), true
}

// UserByEmail returns the directory user with email (any case).
func (d *Directory) UserByEmail(tenant, email string) (DirectoryUser, bool) {
	d.mu.RLock()
	dt := d.tenants[tenant]
	var id string
	if dt != nil {
		id = dt.Emails[strings.ToLower(email)]
	}
	d.mu.RUnlock()
	if id == "" {
		return DirectoryUser{}, false
	}
	return d.User(tenant, id)
}

// UserByLogin returns the directory user an identity provider's sign-in
// event names: the user provisioned with userName login (any case), else
// the one provisioned with externalID (exactly; skipped when empty), else
// the one whose email is login (any case).
func (d *Directory) UserByLogin(tenant, login, externalID string) (DirectoryUser, bool) {
	d.mu.RLock()
	dt := d.tenants[tenant]
	var id string
	if dt != nil {
		id = dt.UserNames[strings.ToLower(login)]
		if id == "" && externalID != "" {
			id = dt.ExternalIDs[externalID]
		}
		if id == "" && login != "" {
			id = dt.Emails[strings.ToLower(login)]
		}
	}
	d.mu.RUnlock()
	if id == "" {
		return DirectoryUser{}, false
	}
	return d.User(tenant, id)
}

// Admins lists the tenant's users who hold an admin role, by id.
func (d *Directory) Admins(tenant string) []DirectoryUser {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []DirectoryUser
	if dt := d.tenants[tenant]; dt != nil {
		for _, u := range dt.Users {
			if u.IsAdmin() {
				out = append(out, u.view())
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// Users lists every user of tenant, by id.
func (d *Directory) Users(tenant string) []DirectoryUser {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := []DirectoryUser{}
	if dt := d.tenants[tenant]; dt != nil {
		for _, u := range dt.Users {
			out = append(out, u.view())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// Group returns a security group by id.
func (d *Directory) Group(tenant, id string) (DirectoryGroup, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	dt := d.tenants[tenant]
	if dt == nil || dt.Groups[id] == nil {
		return DirectoryGroup{}, false
	}
	g := *dt.Groups[id]
	g.Members, g.Products = slices.Clone(g.Members), slices.Clone(g.Products)
	return g, true
}

// Search lists up to limit users of tenant whose id, email or display name
// contains q (any case), ordered by display name then id. An empty q
// matches every user.
func (d *Directory) Search(tenant, q string, limit int) []DirectoryUser {
	q = strings.ToLower(strings.TrimSpace(q))
	d.mu.RLock()
	var out []DirectoryUser
	if dt := d.tenants[tenant]; dt != nil {
		for _, u := range dt.Users {
			if q == "" || strings.Contains(strings.ToLower(u.UserID), q) || strings.Contains(strings.ToLower(u.Email), q) ||
				strings.Contains(strings.ToLower(u.DisplayName), q) {
				out = append(out, u.view())
			}
		}
	}
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].DisplayName), strings.ToLower(out[j].DisplayName)
		if a != b {
			return a < b
		}
		return out[i].UserID < out[j].UserID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Groups lists the tenant's security groups by name, then id.
func (d *Directory) Groups(tenant string) []DirectoryGroup {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := []DirectoryGroup{}
	if dt := d.tenants[tenant]; dt != nil {
		for _, g := range dt.Groups {
			v := *g
			v.Members, v.Products = slices.Clone(g.Members), slices.Clone(g.Products)
			if v.Members == nil {
				v.Members = []string{}
			}
			if v.Products == nil {
				v.Products = []events.PolicyProduct{}
			}
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].GroupID < out[j].GroupID
	})
	return out
}
