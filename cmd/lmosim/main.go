// Command lmosim serves a simulated Salesforce License Management Org over the real Salesforce REST
// wire format, for the operator's tests and local development. See package internal/lmosim.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lmosim:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8089", "address to listen on; port 0 picks a free port")
	seedPath := flag.String("seed", "", "seed file (YAML)")
	statePath := flag.String("state", "", "state file to load at start and save after changes")
	lifetime := flag.Duration("token-lifetime", 0, "access token lifetime (default: the seed's tokenLifetime, else 2h)")
	clientID := flag.String("client-id", "", "add (or override the secret of) a client credentials client")
	clientSecret := flag.String("client-secret", "", "the secret of --client-id")
	insecureListen := flag.Bool("insecure-listen", false, "allow a --listen address other than loopback: the admin API (/__sim/) has no "+
		"authentication, so anyone who can reach the address can change the simulated org")
	flag.Parse()
	if !*insecureListen {
		if err := lmosim.CheckListen(*listen); err != nil {
			return fmt.Errorf("--listen %w, or pass --insecure-listen", err)
		}
	}

	seed := &lmosim.Seed{}
	if *seedPath != "" {
		var err error
		if seed, err = lmosim.LoadSeed(*seedPath); err != nil {
			return err
		}
	}
	if *clientID != "" || *clientSecret != "" {
		if *clientID == "" || *clientSecret == "" {
			return fmt.Errorf("--client-id and --client-secret go together")
		}
		found := false
		for i := range seed.Clients {
			if seed.Clients[i].ClientID == *clientID {
				seed.Clients[i].ClientSecret = *clientSecret
				found = true
			}
		}
		if !found {
			seed.Clients = append(seed.Clients, lmosim.SeedClient{ClientID: *clientID, ClientSecret: *clientSecret})
		}
	}
	// Catch the signals before announcing the address: a supervisor may send SIGTERM as soon as it
	// has read the first line, and an uncaught SIGTERM would kill the process without closing the
	// state file.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	srv, err := lmosim.New(seed, lmosim.Options{TokenLifetime: *lifetime, StatePath: *statePath, Now: time.Now})
	if err != nil {
		return err
	}
	url, err := srv.Start(*listen)
	if err != nil {
		return err
	}
	// A name such as localhost binds wherever it resolves: check the address actually bound.
	if !*insecureListen {
		if err := lmosim.CheckBound(url); err != nil {
			_ = srv.Close()
			return fmt.Errorf("--listen %w; pass --insecure-listen to allow it", err)
		}
	}
	fmt.Printf("lmosim listening on %s\n", url)
	<-sig
	fmt.Fprintln(os.Stderr, "lmosim: shutting down")
	return srv.Close()
}
