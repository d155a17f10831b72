package domain

import "github.com/seatflow/seatflow/events"

// Some aggregates settle: once a request is decided or expires, commands
// rarely touch it again (a late share answer, a repeated decision, each
// refused or replayed). Keeping every settled request in the aggregate cache
// would make the cache grow with the request history until CacheSize, so
// the event that settles one also takes it out of the cache; the rare later
// command loads it again from the store.
var settles = map[events.Kind]func(events.Data) bool{
	events.KindRequest: func(d events.Data) bool {
		switch d.(type) {
		case events.RequestApproved, events.RequestDenied, events.RequestExpired:
			return true
		}
		return false
	},
}

func settling(env events.Envelope) bool {
	f := settles[env.Aggregate.Kind]
	return f != nil && f(env.Data)
}

// forgetSettled drops from the cache the aggregates that events settled.
// Holders of such an entry keep using it; it is simply not found again.
func (s *Service) forgetSettled(tenant string, evs []events.Envelope) {
	for _, ev := range evs {
		if !settling(ev) {
			continue
		}
		k := cacheKey{tenant, ev.Aggregate}
		s.mu.Lock()
		delete(s.cache, k)
		s.mu.Unlock()
	}
}
