package natsjs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Probe answers whether the event stream can be reached right now: the
// connection is up and the stream's leader answers an info request within
// a short timeout. A connection to a frozen server still says "connected"
// until its pings time out (minutes); the probe notices within Timeout.
// Answers are cached for Every, so health checks and scrapes cost at most
// one request per Every.
type Probe struct {
	NC      *nats.Conn
	JS      jetstream.JetStream
	Stream  string        // default StreamEvents
	Timeout time.Duration // default 2s
	Every   time.Duration // default 1s

	mu   sync.Mutex
	at   time.Time
	last error
}

// ErrStreamUnreachable wraps every reason Check gives.
var ErrStreamUnreachable = errors.New("the event stream is unreachable")

// Check returns nil when the event stream answered within the timeout.
func (p *Probe) Check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	every := p.Every
	if every == 0 {
		every = time.Second
	}
	if !p.at.IsZero() && time.Since(p.at) < every {
		return p.last
	}
	p.last, p.at = p.check(ctx), time.Now()
	return p.last
}

func (p *Probe) check(ctx context.Context) error {
	if s := p.NC.Status(); s != nats.CONNECTED {
		return fmt.Errorf("%w: the NATS connection is %s", ErrStreamUnreachable, s)
	}
	timeout, stream := p.Timeout, p.Stream
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	if stream == "" {
		stream = StreamEvents
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := p.JS.Stream(ctx, stream)
	if err == nil {
		_, err = s.Info(ctx)
	}
	if err != nil {
		return fmt.Errorf("%w: stream %s did not answer within %s: %w", ErrStreamUnreachable, stream, timeout, err)
	}
	return nil
}
