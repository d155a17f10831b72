package projections

import "maps"

// Sizes is how many entries a read model's largest maps held, by a key
// the read model chooses (a tenant, or a tenant and a product). A
// checkpoint keeps them beside the read model's snapshot. A read model
// rebuilt from the start of the stream is given the sizes its last
// checkpoint saw, so its per-user maps are made at about their final size
// instead of growing entry by entry: growing a map of 100,000 users moves
// each entry about twice, which in a rebuild costs about as much as the
// rest of applying the claims together.
//
// Sizes are only a hint: a key never seen again makes no map, and a map
// larger than its hint grows as usual. Unlike a snapshot, they do not
// depend on the read model's version, so a rebuild after an upgrade that
// changed a read model uses them too.
type Sizes map[string]int

// Presizer is a read model that reports and takes Sizes.
type Presizer interface {
	Projection
	// SizeHint returns the read model's sizes now. It is called where
	// Snapshot is, while nothing is applied.
	SizeHint() Sizes
	// Presize gives an empty read model the sizes to make its maps at,
	// before the first event is applied.
	Presize(Sizes)
}

// maxSizeHint bounds a hint taken from a checkpoint (4M users in one
// tenant's map): a map made at a size no tenant reaches would only waste
// memory, and a larger map grows as usual.
const maxSizeHint = 1 << 22

// take returns key's hint, at most maxSizeHint, and forgets it: a map is
// made at its hint once.
func (s Sizes) take(key string) int {
	n, ok := s[key]
	if !ok {
		return 0
	}
	delete(s, key)
	return min(max(n, 0), maxSizeHint)
}

// tenantProduct is the key of a tenant's product in Sizes.
func tenantProduct(tenant, product string) string { return tenant + "\x00" + product }

// perTenant is the size of n(t) for each tenant t.
func perTenant[T any](tenants map[string]T, n func(T) int) Sizes {
	s := make(Sizes, len(tenants))
	for name, t := range tenants {
		s[name] = n(t)
	}
	return s
}

// SizeHint implements Presizer: the users holding one license, by tenant
// (those holding more are few, in a map of their own).
func (ul *UserLicenses) SizeHint() Sizes {
	ul.mu.RLock()
	defer ul.mu.RUnlock()
	return perTenant(ul.tenants, func(t *userLicensesTenant) int { return len(t.one) })
}

// Presize implements Presizer.
func (ul *UserLicenses) Presize(s Sizes) {
	ul.mu.Lock()
	defer ul.mu.Unlock()
	ul.hint = maps.Clone(s)
}

// SizeHint implements Presizer: the users with one entry of license
// history, by tenant.
func (h *LicenseHistory) SizeHint() Sizes {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return perTenant(h.tenants, func(t *historyTenant) int { return len(t.one) })
}

// Presize implements Presizer.
func (h *LicenseHistory) Presize(s Sizes) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hint = maps.Clone(s)
}

// SizeHint implements Presizer: the claimed licenses, by tenant and
// product.
func (rc *ReclaimCandidates) SizeHint() Sizes {
	rc.mu.RLock()
	defer rc.mu.RUnlock()
	s := Sizes{}
	for name, t := range rc.tenants {
		for product, users := range t.licenses {
			s[tenantProduct(name, product)] = len(users)
		}
	}
	return s
}

// Presize implements Presizer.
func (rc *ReclaimCandidates) Presize(s Sizes) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hint = maps.Clone(s)
}
