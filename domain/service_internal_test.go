package domain

import (
	"fmt"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
)

// TestCommandMemoryIsBounded: an aggregate keeps in memory the commands of
// the last CommandWindow of its events, not every command it ever had (older
// repeats are looked up in the store), and a command whose later event is
// still recent is kept.
func TestCommandMemoryIsBounded(t *testing.T) {
	e := &entry{kind: kinds[events.KindProduct]}
	e.state, e.commands = e.kind.init("e5"), map[string]uint64{}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const perDay = 24 * 60 // one command a minute
	for i := range 3 * perDay {
		at := start.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprintf("c%d", i)
		if i == 3*perDay-1 {
			id = "c0" // the first command writes again at the end
		}
		e.apply(events.Envelope{Position: uint64(i + 1), OccurredAt: at, CommandID: id,
			Data: events.LicensesPurchased{ProductID: "e5", Count: 1}})
	}
	window := int(CommandWindow / time.Minute)
	if got := len(e.commands); got > window+2 {
		t.Fatalf("remembered %d commands after 3 days, want about the window's (%d)", got, window)
	}
	if len(e.recent) > window+2 || cap(e.recent) > 4*(window+2)+64 {
		t.Fatalf("recent holds %d (capacity %d), want about %d", len(e.recent), cap(e.recent), window)
	}
	if _, ok := e.commands[fmt.Sprintf("c%d", 3*perDay-2)]; !ok {
		t.Fatal("the previous command is forgotten")
	}
	if _, ok := e.commands["c5"]; ok {
		t.Fatal("a command three days old is still remembered")
	}
	if pos, ok := e.commands["c0"]; !ok || pos != 3*perDay {
		t.Fatalf("c0, written again last: %d %v, want its last position", pos, ok)
	}
}
