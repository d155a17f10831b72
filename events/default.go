package events

import (
	"encoding/json"
	"fmt"
)

// Default returns a registry holding every Seatflow event type at its
// current version, with the upcasters from every older version.
func Default() *Registry {
	r := NewRegistry()
	Register[ProductAdded](r)
	Register[LicensesPurchased](r)
	Register[LicensesRemoved](r)
	Register[SelfServicePurchaseChanged](r)
	Register[LicenseAssigned](r)
	Register[LicenseClaimed](r)
	Register[LicenseUnassigned](r)
	Register[RequestSubmitted](r)
	Register[RequestShared](r)
	Register[ShareAnswered](r)
	Register[RequestApproved](r)
	Register[RequestDenied](r)
	Register[RequestExpired](r)
	Register[RequestProcessChanged](r)
	Register[AutoClaimSettingChanged](r)
	Register[PolicyCreated](r)
	Register[PolicyRenamed](r)
	Register[PolicyStatusChanged](r)
	Register[PolicyProductsChanged](r)
	Register[UserRegistered](r)
	Register[GroupChanged](r)
	registerAutoClaim(r)
	registerRequests(r)
	registerProvisioning(r)
	registerForesight(r)
	registerIdentity(r)

	r.AddUpcaster(TypeProductAdded, 1, upcastProductAddedV1)
	r.AddUpcaster(TypeLicenseUnassigned, 1, upcastLicenseUnassignedV1)
	return r
}

// productAddedV1 is the first published shape of ProductAdded: products had
// no service list and self-service purchase could not be blocked.
type productAddedV1 struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	Licenses  int    `json:"licenses"`
}

func upcastProductAddedV1(old json.RawMessage) (json.RawMessage, error) {
	var v1 productAddedV1
	if err := json.Unmarshal(old, &v1); err != nil {
		return nil, fmt.Errorf("read v1: %w", err)
	}
	return json.Marshal(ProductAdded{
		ProductID:   v1.ProductID,
		Name:        v1.Name,
		Services:    []string{},
		Licenses:    v1.Licenses,
		SelfService: SelfServiceAllowed,
	})
}

// upcastLicenseUnassignedV1 lifts LicenseUnassigned v1 (no reason) to v2: the
// fields are the same and the reason stays empty, as v1 events were all an
// admin's or a group's doing.
func upcastLicenseUnassignedV1(old json.RawMessage) (json.RawMessage, error) {
	var v1 struct {
		ProductID string `json:"product_id"`
		UserID    string `json:"user_id"`
	}
	if err := json.Unmarshal(old, &v1); err != nil {
		return nil, fmt.Errorf("read v1: %w", err)
	}
	return json.Marshal(LicenseUnassigned{ProductID: v1.ProductID, UserID: v1.UserID})
}
