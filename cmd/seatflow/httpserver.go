package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// httpFlags bound what one HTTP client may cost: slow or idle clients are
// cut off rather than waited for, headers are capped, and the number of
// open connections is limited.
type httpFlags struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int64
	MaxConns          int
}

func bindHTTPFlags(f *flags, c *httpFlags) {
	f.duration(&c.ReadHeaderTimeout, "http-read-header-timeout", 5*time.Second, "how long a client may take to send a request's headers")
	f.duration(&c.ReadTimeout, "http-read-timeout", 15*time.Second, "how long a client may take to send a whole request, body included")
	f.duration(&c.WriteTimeout, "http-write-timeout", 60*time.Second, "how long answering one request may take, waiting for read-your-writes included")
	f.duration(&c.IdleTimeout, "http-idle-timeout", 60*time.Second, "how long an idle keep-alive connection stays open")
	f.size(&c.MaxHeaderBytes, "http-max-header-bytes", 64<<10, "largest request header block; larger ones answer 431")
	f.int(&c.MaxConns, "http-max-conns", 1024, "most open HTTP connections; further clients wait to be accepted")
}

func (c httpFlags) validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{"--http-read-header-timeout": c.ReadHeaderTimeout, "--http-read-timeout": c.ReadTimeout,
		"--http-write-timeout": c.WriteTimeout, "--http-idle-timeout": c.IdleTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout {
		errs = append(errs, errors.New("--http-read-header-timeout must not exceed --http-read-timeout"))
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxHeaderBytes > 16<<20 {
		errs = append(errs, errors.New("--http-max-header-bytes must be from 4KiB to 16MiB"))
	}
	if c.MaxConns < 1 {
		errs = append(errs, errors.New("--http-max-conns must be at least 1"))
	}
	return errors.Join(errs...)
}

// server returns the HTTP server for h with the limits applied, and the
// listener wrapped to hold at most MaxConns connections.
func (c httpFlags) server(h http.Handler, ln net.Listener, log *slog.Logger) (*http.Server, net.Listener) {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    int(c.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}, netutil.LimitListener(ln, c.MaxConns)
}
