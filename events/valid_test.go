package events_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/seatflow/seatflow/events"
)

// FuzzValidMatchesPatterns holds the hand-written checks to the documented
// expressions.
func FuzzValidMatchesPatterns(f *testing.F) {
	tenantRE, idRE := regexp.MustCompile(events.TenantPattern), regexp.MustCompile(events.IDPattern)
	for _, s := range []string{"", "a", "A", "-a", "a-b", "a_b", "a@b", "a.b", "a b", "é", "a\n", strings.Repeat("a", 63),
		strings.Repeat("a", 64), strings.Repeat("b", 128), strings.Repeat("b", 129), "01JABC", "x*", "x>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := events.ValidTenant(s), tenantRE.MatchString(s); got != want {
			t.Errorf("ValidTenant(%q) = %v, want %v", s, got, want)
		}
		if got, want := events.ValidID(s), idRE.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
	})
}
