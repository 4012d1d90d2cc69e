package testenv

import (
	"context"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// StartSim starts lmosim in this process with the seed (YAML) on a loopback port, and closes it when
// t ends. It returns the server and its URL.
func StartSim(t TB, seedYAML string, opts lmosim.Options) (*lmosim.Server, string) {
	t.Helper()
	seed, err := lmosim.ParseSeed([]byte(seedYAML))
	if err != nil {
		t.Fatalf("parsing the lmosim seed: %v", err)
	}
	srv, err := lmosim.New(seed, opts)
	if err != nil {
		t.Fatalf("lmosim: %v", err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting lmosim: %v", err)
	}
	t.Cleanup(func() {
		// A connection the test left hanging can make the shutdown time out; that is not what a test asserts.
		if err := srv.Close(); err != nil {
			t.Logf("closing lmosim: %v", err)
		}
	})
	return srv, url
}

// AdminClient is a REST client of the LMO at url for Dana Admin (client lmo-admin): the person in
// the LMO, who edits and reads records through the API as another user than the operator.
func AdminClient(ctx context.Context, url, secret string) (*salesforce.Client, error) {
	return salesforce.New(ctx, salesforce.Config{InstanceURL: url,
		ClientCredentials: &salesforce.ClientCredentials{ClientID: AdminClientID, ClientSecret: secret}})
}
