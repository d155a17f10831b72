package domain_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

func TestSimulateClaims(t *testing.T) {
	served := func(p, b int) []domain.SimulatedProduct {
		return []domain.SimulatedProduct{{ProductID: "P", Count: p}, {ProductID: "B", Count: b}}
	}
	tests := []struct {
		name     string
		given    claimGiven
		n        int
		products []events.PolicyProduct
		want     domain.Simulation
		err      string
	}{
		{"primary first, then the backup, then the queue", claimGiven{pSeats: 2, bSeats: 3, holdsP: []string{"x"}}, 6, nil,
			domain.Simulation{Served: served(1, 3), Queued: 2}, ""},
		{"everyone served", claimGiven{pSeats: 5, bSeats: 5}, 3, nil, domain.Simulation{Served: served(3, 0)}, ""},
		{"users already waiting keep their place: all queue", claimGiven{pSeats: 5, bSeats: 5, queue: []string{"w"}}, 2, nil,
			domain.Simulation{Served: served(0, 0), Queued: 2}, ""},
		{"as if the switch and the policy were on", claimGiven{off: true, disabled: true, pSeats: 1, bSeats: 1}, 3, nil,
			domain.Simulation{Served: served(1, 1), Queued: 1}, ""},
		{"a proposed order: backup first", claimGiven{pSeats: 2, bSeats: 3}, 4, []events.PolicyProduct{pp("B"), pp("P")},
			domain.Simulation{Served: []domain.SimulatedProduct{{ProductID: "B", Count: 3}, {ProductID: "P", Count: 1}}}, ""},
		{"a proposed order with one product", claimGiven{pSeats: 2, bSeats: 3}, 4, []events.PolicyProduct{pp("P")},
			domain.Simulation{Served: []domain.SimulatedProduct{{ProductID: "P", Count: 2}}, Queued: 2}, ""},
		{"a proposed unknown product", claimGiven{pSeats: 2}, 1, []events.PolicyProduct{pp("Z")}, domain.Simulation{}, "validation"},
		{"a proposed empty order", claimGiven{pSeats: 2}, 1, []events.PolicyProduct{}, domain.Simulation{}, "validation"},
		{"no sign-ins", claimGiven{pSeats: 2}, 0, nil, domain.Simulation{}, "validation"},
		{"too many sign-ins", claimGiven{pSeats: 2}, domain.MaxSimulatedSignIns + 1, nil, domain.Simulation{}, "validation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.given.view()
			before := v.Products["P"].Available()
			got, err := domain.SimulateClaims(v, "p1", tt.products, tt.n, now)
			var ve *domain.ValidationError
			switch {
			case tt.err == "validation" && !errors.As(err, &ve):
				t.Fatalf("got %+v, %v; want a validation error", got, err)
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err == "" && !reflect.DeepEqual(got, tt.want):
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if v.Products["P"].Available() != before || v.Org.AutoClaim == tt.given.off || len(v.Policies["p1"].Products) != 2 {
				t.Fatal("the simulation changed the view")
			}
		})
	}
	var nf *domain.NotFoundError
	if _, err := domain.SimulateClaims(claimGiven{}.view(), "p9", nil, 1, now); !errors.As(err, &nf) {
		t.Fatalf("unknown policy: got %v, want not found", err)
	}
}
