package events

// Default returns a registry holding every Seatflow event type at its
// current version, with the upcasters from every older version.
func Default() *Registry {
	r := NewRegistry()
	registerOrg(r)
	registerProduct(r)
	registerPolicy(r)
	registerUser(r)
	registerGroup(r)
	registerRequest(r)
	registerIdentity(r)
	return r
}
