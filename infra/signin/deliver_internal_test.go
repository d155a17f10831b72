package signin

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// seqMsg is a delivered sign-in known by its place in the delivery order.
type seqMsg struct {
	jetstream.Msg
	n int
}

// TestDeliverKeepsTheOrderAcrossTheStop: the deliveries before a
// partition stops go to its queue, all those after to left, however much
// room the queue has; a random split would let the loop handle a later
// sign-in before an earlier one (TestHandOverMidStream caught it now and
// then).
func TestDeliverKeepsTheOrderAcrossTheStop(t *testing.T) {
	p := &partition{msgs: make(chan jetstream.Msg, 1000), quit: make(chan struct{})}
	for i := range 10 {
		p.deliver(seqMsg{n: i})
	}
	close(p.quit)
	for i := 10; i < 200; i++ {
		p.deliver(seqMsg{n: i})
	}
	if got := len(p.msgs); got != 10 {
		t.Errorf("the queue holds %d sign-ins, want the 10 delivered before the stop", got)
	}
	for i := range len(p.msgs) {
		if m := (<-p.msgs).(seqMsg); m.n != i {
			t.Fatalf("queue: got %d at %d", m.n, i)
		}
	}
	if len(p.left) != 190 {
		t.Fatalf("left %d sign-ins, want the 190 delivered after the stop", len(p.left))
	}
	for i, m := range p.left {
		if m.(seqMsg).n != 10+i {
			t.Fatalf("left: got %d at %d", m.(seqMsg).n, i)
		}
	}
	if _, ok := p.next(); ok {
		t.Error("a stopped partition took a new batch")
	}
}
