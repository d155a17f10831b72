package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `usage: seatflow <command> [flags]

commands:
  serve     run the embedded NATS server (or use --nats-url), projections, HTTP API
  token     print a signed bearer token: --tenant T --user U --role R [--ttl D]
            token revoke --jti J [--until T], or --tenant T --user U: refuse it on every instance
  rebuild   replay every projection from the start of the stream and report
  creds     print NATS credentials: --tenant T --role publisher|reader [--name N] [--ttl D]
            creds revoke --tenant T --name N: revoke them on the running servers
            creds cluster --out DIR: auth.conf for a cluster's nats-servers, service.creds for serve
  bench     benchmark the service against raw JetStream on the same server:
            [--scenarios a,b,..] [--nats-url U]
            bench --soak D: two serve processes on a 3-node cluster under mixed
            load for D, one SIGKILLed, a NATS node restarted; checks at the end
  help      show this text

Run 'seatflow <command> -h' for a command's flags. Every flag is also read
from the environment as SEATFLOW_<NAME>, e.g. SEATFLOW_DATA_DIR.
`

// errUsage marks errors already explained to the user by the flag package.
var errUsage = errors.New("usage")

// Main runs one seatflow command and returns the process exit code: 0 on
// success (including a clean stop on SIGINT/SIGTERM), 2 for bad usage or
// configuration, 1 when running fails.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serveCmd(ctx, args[1:], stderr, getenv)
	case "token":
		err = tokenCmd(args[1:], stdout, stderr, getenv)
	case "rebuild":
		err = rebuildCmd(ctx, args[1:], stdout, stderr, getenv)
	case "creds":
		err = credsCmd(args[1:], stdout, stderr, getenv)
	case "bench":
		err = benchCmd(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "seatflow: unknown command %q (try 'seatflow help')\n", args[0])
		return 2
	}
	var cfgErr *configError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &cfgErr):
		fmt.Fprintf(stderr, "seatflow %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "seatflow %s: %v\n", args[0], err)
		return 1
	}
}
