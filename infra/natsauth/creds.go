package natsauth

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Role is what a tenant's credential may do on the bus.
type Role string

// The roles of tenant credentials (CONTRACT.md, "Who may do what on NATS").
const (
	// RolePublisher publishes sign-ins on sf.signin.<tenant> and receives
	// their publish acknowledgements.
	RolePublisher Role = "publisher"
	// RoleReader reads sf.evt.<tenant>.>, sf.notify.<tenant>.> and
	// sf.dlq.signin.<tenant>, by subscription or through JetStream
	// consumers filtered to them.
	RoleReader Role = "reader"
)

// Stream names and the service's durable consumer names, as the permissions
// refer to them. They match infra/natsjs and the edges; a test checks that.
const (
	streamEvents  = "SEATFLOW_EVENTS"
	streamNotify  = "SEATFLOW_NOTIFY"
	streamDLQ     = "SEATFLOW_DLQ"
	streamSignins = "SEATFLOW_SIGNINS"
)

// ServiceConsumers are the durable consumers the service itself keeps, by
// stream. No tenant credential may create or update a consumer of one of
// these names (an update could change its filter).
var ServiceConsumers = map[string][]string{
	streamEvents: {"seatflow-notifier"},
	streamNotify: {"seatflow-smtp"},
}

// ReservedTenant is refused for tenant credentials: its name prefixes the
// service's own consumers (seatflow-notifier, ...), which a tenant's durable
// T-<name> must never be able to name.
const ReservedTenant = "seatflow"

// InboxPrefix is the inbox prefix tenant T's clients must use
// (nats.CustomInboxPrefix): replies and deliveries of one tenant never land
// where another can subscribe.
func InboxPrefix(tenant string) string { return "_INBOX_" + tenant }

var (
	tenantRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	// A credential name has no '-': a durable T-<name> then names exactly
	// one tenant and one credential name (tenant a, name b-c and tenant a-b,
	// name c would otherwise share the durable a-b-c).
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)
)

// Grant describes one credential to issue.
type Grant struct {
	Tenant string
	Role   Role
	// Name groups credentials for revocation; default: the role.
	Name string
	// TTL bounds the credential's life; 0 means it does not expire.
	TTL time.Duration
}

// ErrInvalidGrant is returned by Issue for a tenant, role, name or TTL that
// cannot be issued.
var ErrInvalidGrant = errors.New("invalid credential request")

func (g *Grant) normalize() error {
	if g.Name == "" {
		g.Name = string(g.Role)
	}
	var errs []error
	switch {
	case !tenantRE.MatchString(g.Tenant):
		errs = append(errs, fmt.Errorf("tenant %q: lowercase letters, digits and '-', at most 63", g.Tenant))
	case g.Tenant == ReservedTenant:
		errs = append(errs, fmt.Errorf("tenant %q is reserved for the service", g.Tenant))
	}
	if g.Role != RolePublisher && g.Role != RoleReader {
		errs = append(errs, fmt.Errorf("role %q: want publisher or reader", g.Role))
	}
	if !nameRE.MatchString(g.Name) {
		errs = append(errs, fmt.Errorf("name %q: letters, digits and '_', at most 32", g.Name))
	}
	if g.TTL < 0 {
		errs = append(errs, fmt.Errorf("ttl %s must not be negative", g.TTL))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	}
	return nil
}

// Durable is the one durable consumer name a reader credential of tenant
// under name may create, pull from, inspect and delete on each stream it
// reads.
func Durable(tenant, name string) string { return tenant + "-" + name }

// Permissions are exactly the subjects CONTRACT.md gives a role of tenant.
// Everything else is refused by the server and reported to the client as a
// permissions violation.
func Permissions(tenant string, role Role, name string) jwt.Permissions {
	var p jwt.Permissions
	inbox := InboxPrefix(tenant) + ".>"
	p.Sub.Allow.Add(inbox)
	switch role {
	case RolePublisher:
		p.Pub.Allow.Add("sf.signin." + tenant)
	case RoleReader:
		durable := Durable(tenant, name)
		filters := map[string]string{
			streamEvents: "sf.evt." + tenant + ".>",
			streamNotify: "sf.notify." + tenant + ".>",
			streamDLQ:    "sf.dlq.signin." + tenant,
		}
		for _, f := range filters {
			p.Sub.Allow.Add(f)
		}
		for stream, filter := range filters {
			p.Pub.Allow.Add(
				"$JS.API.STREAM.INFO."+stream,
				// Create (or update) a consumer of any name, but only with the
				// tenant's filter: the server refuses a body whose filter
				// differs from the one in the subject.
				"$JS.API.CONSUMER.CREATE."+stream+".*."+filter,
				// Pull, inspect, delete and acknowledge only the tenant's own
				// durable: another tenant's durable holds another tenant's
				// events.
				"$JS.API.CONSUMER.MSG.NEXT."+stream+"."+durable,
				"$JS.API.CONSUMER.INFO."+stream+"."+durable,
				"$JS.API.CONSUMER.DELETE."+stream+"."+durable,
				"$JS.ACK."+stream+"."+durable+".>",
				// Flow control replies of an ordered (push) consumer.
				"$JS.FC."+stream+".>",
			)
			for _, c := range ServiceConsumers[stream] {
				p.Pub.Deny.Add("$JS.API.CONSUMER.CREATE." + stream + "." + c + ".>")
			}
		}
		// The last event of one of the tenant's aggregates, by subject.
		p.Pub.Allow.Add("$JS.API.DIRECT.GET." + streamEvents + ".sf.evt." + tenant + ".>")
	}
	return p
}

// Issue signs a credentials file for g with the SEATFLOW account key: a
// fresh user key, the role's permissions, the name and tenant as tags, and
// an expiry when g.TTL is set. It returns the file and the user's public
// key, which revocation needs.
func (id *Identity) Issue(g Grant, now time.Time) (creds []byte, user string, err error) {
	if err := g.normalize(); err != nil {
		return nil, "", err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", fmt.Errorf("natsauth: user key: %w", err)
	}
	user = pub(kp)
	uc := jwt.NewUserClaims(user)
	uc.Name = g.Tenant + "/" + string(g.Role) + "/" + g.Name
	uc.Tags.Add("tenant:"+g.Tenant, "role:"+string(g.Role), "name:"+g.Name)
	uc.Permissions = Permissions(g.Tenant, g.Role, g.Name)
	if g.TTL > 0 {
		uc.Expires = now.Add(g.TTL).Unix()
	}
	creds, err = id.creds(uc, id.Account, kp)
	if err != nil {
		return nil, "", err
	}
	return creds, user, nil
}
