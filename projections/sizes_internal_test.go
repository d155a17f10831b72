package projections

import "testing"

// TestSizesTake: a hint is taken once, never below zero nor above
// maxSizeHint, and a key without one is zero.
func TestSizesTake(t *testing.T) {
	s := Sizes{"a": 10, "neg": -5, "huge": 1 << 40}
	for _, tt := range []struct {
		key  string
		want int
	}{{"a", 10}, {"a", 0}, {"neg", 0}, {"huge", maxSizeHint}, {"missing", 0}} {
		if got := s.take(tt.key); got != tt.want {
			t.Errorf("take(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if len(s) != 0 {
		t.Errorf("left %v, want every hint taken", s)
	}
	var none Sizes
	if got := none.take("a"); got != 0 {
		t.Errorf("nil sizes: take = %d, want 0", got)
	}
}
