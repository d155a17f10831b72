package memstore_test

import (
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/domain/storetest"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/memstore"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) domain.Store { return memstore.New(events.Default()) })
}
