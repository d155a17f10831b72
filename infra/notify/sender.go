package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/seatflow/seatflow/infra/retry"
	mail "github.com/wneessen/go-mail"
)

// Defaults of SenderConfig.
const (
	DefaultNotifyStream = "SEATFLOW_NOTIFY"
	DefaultSenderDur    = "seatflow-smtp"
	DefaultMaxDeliver   = 20
	// DefaultMaxAge is how old a notification may be and still be mailed.
	DefaultMaxAge = 72 * time.Hour
)

// SMTP TLS modes.
const (
	TLSNone          = "none"
	TLSOpportunistic = "opportunistic"
	TLSMandatory     = "mandatory"
	TLSImplicit      = "implicit"
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	// JS reaches SEATFLOW_NOTIFY. Required.
	JS jetstream.JetStream
	// Addr is the SMTP server, host:port. Required.
	Addr string
	// From is the sender address. Required.
	From string
	// Username and Password, when set, authenticate with PLAIN.
	Username, Password string
	// TLS is one of TLSNone, TLSOpportunistic (default), TLSMandatory,
	// TLSImplicit.
	TLS string
	// Stream and Durable name the notify stream and the consumer.
	Stream, Durable string
	// Redelay is the wait before a failed delivery is retried; MaxDeliver
	// bounds the attempts (then the message is given up and logged).
	Redelay    time.Duration
	MaxDeliver int
	// Timeout bounds one SMTP conversation. Default 30s.
	Timeout time.Duration
	// MaxAge is the oldest notification still mailed: older ones (e.g. the
	// backlog of a sender turned on late) are logged, counted and dropped.
	// Default 72h.
	MaxAge time.Duration
	// Now is the clock MaxAge is measured with. Default time.Now.
	Now func() time.Time
	// Metrics, if set, receives seatflow_notify_too_old_total.
	Metrics prometheus.Registerer
	// Logger receives the sender's logs. Default: discard.
	Logger *slog.Logger
}

func (c *SenderConfig) setDefaults() {
	if c.TLS == "" {
		c.TLS = TLSOpportunistic
	}
	if c.Stream == "" {
		c.Stream = DefaultNotifyStream
	}
	if c.Durable == "" {
		c.Durable = DefaultSenderDur
	}
	if c.Redelay == 0 {
		c.Redelay = 10 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every missing or invalid setting.
func (c SenderConfig) Validate() error {
	var errs []error
	if c.JS == nil {
		errs = append(errs, errors.New("notify: SenderConfig.JS is required"))
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--smtp-addr %q: want host:port", c.Addr))
	} else if _, err := strconv.Atoi(port); err != nil {
		errs = append(errs, fmt.Errorf("--smtp-addr %q: port is not a number", c.Addr))
	}
	if c.From == "" {
		errs = append(errs, errors.New("--smtp-from is required with --smtp-addr"))
	}
	if c.MaxAge < 0 {
		errs = append(errs, errors.New("--smtp-max-age must not be negative"))
	}
	switch c.TLS {
	case TLSNone, TLSOpportunistic, TLSMandatory, TLSImplicit:
	default:
		errs = append(errs, fmt.Errorf("--smtp-tls %q: want none, opportunistic, mandatory or implicit", c.TLS))
	}
	return errors.Join(errs...)
}

// Sender delivers notifications from SEATFLOW_NOTIFY by SMTP.
//
// A notification of a kind in SecretKinds carries a credential (a share
// link lets whoever holds it answer a request). Once the sender has mailed
// it, or given up on it, nothing needs it any more, so the sender erases it
// from the stream (a secure delete, overwriting the stored bytes) before
// acknowledging it: the link then lives only in the recipient's mailbox.
// The other notifications stay until the stream's MaxAge, for downstream
// readers.
type Sender struct {
	cfg    SenderConfig
	log    *slog.Logger
	host   string
	port   int
	tooOld prometheus.Counter
	stream jetstream.Stream
}

// SecretKinds are the notification kinds whose text carries a credential,
// which the sender erases from the stream once it no longer needs them.
var SecretKinds = []string{KindRequestShared}

// NewSender checks cfg and returns a Sender; Run starts it.
func NewSender(cfg SenderConfig) (*Sender, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(cfg.Addr)
	p, _ := strconv.Atoi(port)
	tooOld := prometheus.NewCounter(prometheus.CounterOpts{Name: "seatflow_notify_too_old_total",
		Help: "Notifications not mailed because they were older than --smtp-max-age when the sender reached them."})
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(tooOld); err != nil {
			return nil, fmt.Errorf("notify: metrics: %w", err)
		}
	}
	return &Sender{cfg: cfg, log: cfg.Logger.With("component", "smtp-sender"), host: host, port: p, tooOld: tooOld}, nil
}

// Run delivers until ctx ends, then returns nil. When it cannot reach
// its stream or consumer (NATS slow, away or refusing), it logs why and
// tries again with a growing pause of up to 5 s: the notifications wait
// in the stream, the service keeps running.
func (s *Sender) Run(ctx context.Context) error {
	return retry.Forever(ctx, 100*time.Millisecond, 5*time.Second, s.run, func(err error, pause time.Duration) bool {
		s.log.Warn("cannot consume notifications; trying again", "err", err, "retry_in", pause)
		return false
	})
}

// run consumes until ctx ends, or returns why it cannot start.
func (s *Sender) run(ctx context.Context) error {
	stream, err := s.cfg.JS.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return fmt.Errorf("notify: stream %s: %w", s.cfg.Stream, err)
	}
	s.stream = stream
	cons, err := s.cfg.JS.CreateOrUpdateConsumer(ctx, s.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       s.cfg.Durable,
		Description:   "Seatflow SMTP sender",
		FilterSubject: "sf.notify.*.email",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.cfg.Timeout + 10*time.Second,
		MaxDeliver:    s.cfg.MaxDeliver,
		MaxAckPending: 16,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("notify: sender consumer %s on %s: %w", s.cfg.Durable, s.cfg.Stream, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { s.deliver(ctx, m) })
	if err != nil {
		return fmt.Errorf("notify: consume %s: %w", s.cfg.Stream, err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

func (s *Sender) deliver(ctx context.Context, m jetstream.Msg) {
	var n Notification
	if err := json.Unmarshal(m.Data(), &n); err != nil || len(n.To) == 0 {
		s.log.Error("dropping a notification that cannot be sent", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	if md, err := m.Metadata(); err == nil && s.cfg.Now().Sub(md.Timestamp) > s.cfg.MaxAge {
		// Mail about a decision made days ago, sent all at once, misleads
		// more than it informs: count it and say so instead.
		s.tooOld.Inc()
		s.log.Warn("not mailing a notification older than --smtp-max-age", "id", n.ID, "kind", n.Kind,
			"stored_at", md.Timestamp, "max_age", s.cfg.MaxAge)
		s.forget(ctx, m, n)
		_ = m.Term()
		return
	}
	if err := s.Send(ctx, n); err != nil {
		md, _ := m.Metadata()
		var attempt uint64
		if md != nil {
			attempt = md.NumDelivered
		}
		if attempt >= uint64(s.cfg.MaxDeliver) {
			s.log.Error("giving up on a notification", "id", n.ID, "to", n.To, "attempts", attempt, "err", err)
			s.forget(ctx, m, n)
			_ = m.Term()
			return
		}
		s.log.Warn("notification not delivered; retrying", "id", n.ID, "attempt", attempt, "err", err)
		_ = m.NakWithDelay(s.cfg.Redelay)
		return
	}
	s.forget(ctx, m, n)
	_ = m.Ack()
	s.log.Debug("notification delivered", "id", n.ID, "kind", n.Kind)
}

// forget erases m from the stream when n carries a credential. A failure
// is logged, not retried: the mail went out (or was given up), and the
// credential still expires with the share it opens.
func (s *Sender) forget(ctx context.Context, m jetstream.Msg, n Notification) {
	if !slices.Contains(SecretKinds, n.Kind) {
		return
	}
	md, err := m.Metadata()
	if err == nil {
		err = s.stream.SecureDeleteMsg(ctx, md.Sequence.Stream)
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		s.log.Warn("a sent notification carrying a link stays in the stream until it ages out", "id", n.ID, "kind", n.Kind, "err", err)
	}
}

// Send delivers one notification by SMTP. Its Message-ID is derived from
// the notification ID, so a receiving system can spot a repeat.
func (s *Sender) Send(ctx context.Context, n Notification) error {
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("from %q: %w", s.cfg.From, err)
	}
	if err := msg.To(n.To...); err != nil {
		return fmt.Errorf("to %v: %w", n.To, err)
	}
	msg.Subject(n.Subject)
	msg.SetBodyString(mail.TypeTextPlain, n.Text)
	msg.SetMessageIDWithValue(strings.NewReplacer(":", ".", "@", ".").Replace(n.ID) + "@seatflow")
	msg.SetGenHeader("X-Seatflow-Kind", n.Kind)
	opts := []mail.Option{mail.WithPort(s.port), mail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSMandatory:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	c, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", s.cfg.Addr, err)
	}
	return nil
}
