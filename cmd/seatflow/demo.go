package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// demoTenant is the tenant --demo fills.
const demoTenant domain.TenantID = "demo"

// loadDemo fills the demo tenant. Every command has a fixed ID, so loading
// twice (or after a crash half-way) changes nothing that already stands.
func loadDemo(ctx context.Context, svc *domain.Service, log *slog.Logger) error {
	type step struct {
		id      string
		product domain.ProductID
		cmd     domain.ProductCommand
	}
	manual := events.Source{Kind: events.SourceManual}
	steps := []step{
		{"demo-add-e5", "e5", domain.AddProduct{Name: "Office 365 E5", Services: []string{"exchange", "teams", "sharepoint", "onedrive"}, Licenses: 25, SelfService: events.SelfServiceBlocked}},
		{"demo-add-e3", "e3", domain.AddProduct{Name: "Office 365 E3", Services: []string{"exchange", "teams", "sharepoint"}, Licenses: 50, SelfService: events.SelfServiceBlocked}},
		{"demo-add-visio", "visio", domain.AddProduct{Name: "Visio Plan 2", Services: []string{"visio"}, Licenses: 5, SelfService: events.SelfServiceAllowed}},
		{"demo-assign-alice-e5", "e5", domain.AssignLicense{UserID: "alice", DisabledServices: []string{}, Source: manual}},
		{"demo-assign-bob-e3", "e3", domain.AssignLicense{UserID: "bob", DisabledServices: []string{"sharepoint"}, Source: manual}},
	}
	for _, s := range steps {
		_, _, err := svc.Product(ctx, demoTenant, s.product, events.Meta{Actor: "seatflow-demo", CommandID: s.id}, s.cmd)
		if err != nil && !errors.Is(err, domain.ErrAlreadyExists) && !errors.Is(err, domain.ErrAlreadyAssigned) {
			return fmt.Errorf("%s: %w", s.id, err)
		}
	}
	if err := loadAutoClaimDemo(ctx, svc); err != nil {
		return err
	}
	log.Info("demo tenant loaded", "tenant", demoTenant)
	return nil
}
