package domain

import (
	"fmt"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
)

// TestCommandMemoryIsBounded: an aggregate remembers the commands of the
// last CommandMemory of its events, not every command it ever had, and a
// command whose later event is still recent is kept.
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
	if got := len(e.commands); got > perDay+2 {
		t.Fatalf("remembered %d commands after 3 days, want about one day's (%d)", got, perDay)
	}
	if len(e.recent) > perDay+2 {
		t.Fatalf("recent holds %d, want about %d", len(e.recent), perDay)
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
