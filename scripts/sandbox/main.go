package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

const defaultPort = "8789"

// listenAddr picks the address: the -addr flag, else 127.0.0.1:$SANDBOX_PORT,
// else 127.0.0.1:8789.
func listenAddr(flagAddr, envPort string) (string, error) {
	if flagAddr != "" {
		if _, _, err := net.SplitHostPort(flagAddr); err != nil {
			return "", fmt.Errorf("invalid -addr %q: %v", flagAddr, err)
		}
		return flagAddr, nil
	}
	if envPort == "" {
		return net.JoinHostPort("127.0.0.1", defaultPort), nil
	}
	if n, err := strconv.Atoi(envPort); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("invalid SANDBOX_PORT %q: want a port number", envPort)
	}
	return net.JoinHostPort("127.0.0.1", envPort), nil
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func main() {
	addrFlag := flag.String("addr", "", "listen address (default 127.0.0.1:$SANDBOX_PORT, or 127.0.0.1:"+defaultPort+")")
	hookURL := flag.String("webhook-url", os.Getenv("SANDBOX_WEBHOOK_URL"),
		"where to POST webhook events, e.g. http://127.0.0.1:8787/webhook (default $SANDBOX_WEBHOOK_URL; none: events are only listed at /_sandbox/events)")
	hookSecret := flag.String("webhook-secret", "",
		"the whsec_... secret events are signed with (default $STRIPE_WEBHOOK_SECRET; prefer the environment, flags show in ps)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./scripts/sandbox [-addr host:port] [-webhook-url URL]\n\n"+
			"Local, stateful stand-in for Stripe's API subset and Stripe.js, for offline\n"+
			"development and tests only. Not Stripe; takes no real payments; never deploy it.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *hookSecret == "" {
		*hookSecret = os.Getenv("STRIPE_WEBHOOK_SECRET")
	}

	logger := log.New(os.Stderr, "sandbox: ", log.LstdFlags|log.Lmicroseconds)
	addr, err := listenAddr(*addrFlag, os.Getenv("SANDBOX_PORT"))
	if err != nil {
		logger.Fatal(err)
	}
	if err := webhookConfig(*hookURL, *hookSecret); err != nil {
		logger.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Fatal(err)
	}

	sb := New()
	sb.Logger = logger
	sb.WebhookURL, sb.WebhookSecret = *hookURL, *hookSecret
	defer sb.Close()
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second, ErrorLog: logger}

	logger.Printf("Stripe sandbox (development stand-in, not Stripe, never deploy) listening on http://%s", ln.Addr())
	logger.Printf("Stripe.js stand-in: http://%s/stripe.js", ln.Addr())
	if sb.WebhookURL != "" {
		logger.Printf("webhook events go to %s (signed; see /_sandbox/events)", sb.WebhookURL)
	} else {
		logger.Printf("no webhook endpoint: events are listed at /_sandbox/events only")
	}
	if !isLoopback(ln.Addr()) {
		logger.Printf("WARNING: listening on a non-loopback address; the sandbox has no access control")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// Sessions past expires_at expire (and send checkout.session.expired) on time.
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				sb.ExpireDue()
			case <-ctx.Done():
				return
			}
		}
	}()

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Fatal(err)
		}
	case <-ctx.Done():
		logger.Printf("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			logger.Printf("shutdown: %v", err)
		}
	}
}
