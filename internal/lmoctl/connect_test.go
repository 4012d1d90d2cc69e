package lmoctl

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

func fakeKube(t *testing.T, objs ...client.Object) KubeFunc {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := licensingv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	return func(string, string) (client.Reader, string, error) { return c, "team-a", nil }
}

func lmoObject(url string) *licensingv1alpha1.LicenseManagementOrg {
	return &licensingv1alpha1.LicenseManagementOrg{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-lmo", Namespace: "licensing"},
		Spec: licensingv1alpha1.LicenseManagementOrgSpec{InstanceURL: url, Auth: licensingv1alpha1.LMOAuth{
			ClientCredentials: &licensingv1alpha1.SecretAuth{SecretRef: licensingv1alpha1.LocalObjectReference{Name: "acme-lmo-client"}}}},
	}
}

func TestLMOFlagReadsTheLicenseManagementOrgAndItsSecret(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-lmo-client", Namespace: "licensing"},
		Data: map[string][]byte{"client-id": []byte("lmo-operator"), "client-secret": []byte(testSecret)}}
	kube := fakeKube(t, lmoObject(s.url), secret)
	r := runEnv(t, nil, kube, "import", "--package", "033000000000002AAA", "--lmo", "acme-lmo", "--namespace", "licensing",
		"--allow-insecure-loopback-http")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "lmoRef:\n    name: acme-lmo") || !strings.Contains(r.stdout, "namespace: licensing") {
		t.Errorf("the ManagedPackage does not point at the LMO:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, testSecret) {
		t.Error("the secret was printed")
	}

	// The context's namespace is the default; errors name the object and the key, never a value.
	r = runEnv(t, nil, kube, "report", "--lmo", "acme-lmo")
	if r.code != ExitError || !strings.Contains(r.stderr, "LicenseManagementOrg team-a/acme-lmo does not exist") {
		t.Errorf("wrong namespace: exit %d, %q", r.code, r.stderr)
	}
	broken := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-lmo-client", Namespace: "licensing"},
		Data: map[string][]byte{"client-id": []byte("lmo-operator"), "clientsecret": []byte(testSecret)}}
	r = runEnv(t, nil, fakeKube(t, lmoObject(s.url), broken), "report", "--lmo", "acme-lmo", "--namespace", "licensing",
		"--allow-insecure-loopback-http")
	if r.code != ExitError || !strings.Contains(r.stderr, `Secret licensing/acme-lmo-client has no key "client-secret"`) || strings.Contains(r.stderr, testSecret) {
		t.Errorf("broken Secret: exit %d, %q", r.code, r.stderr)
	}
	r = runEnv(t, nil, kube, "report", "--lmo", "acme-lmo", "--instance-url", s.url)
	if r.code != ExitError || !strings.Contains(r.stderr, "--lmo and --instance-url are exclusive") {
		t.Errorf("--lmo with --instance-url: exit %d, %q", r.code, r.stderr)
	}
}

func TestConnectionErrorsNameTheFlagAndHideTheSecret(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	for _, tc := range []struct {
		vars map[string]string
		args []string
		want string
	}{
		{nil, []string{"report"}, "--instance-url (or LMO_INSTANCE_URL) is required"},
		{map[string]string{"LMO_INSTANCE_URL": s.url}, []string{"report"}, "--client-id (or LMO_CLIENT_ID) is required"},
		{map[string]string{"LMO_INSTANCE_URL": s.url, "LMO_CLIENT_ID": "lmo-operator"}, []string{"report"}, "--client-secret (or LMO_CLIENT_SECRET) is required"},
		{map[string]string{"LMO_INSTANCE_URL": s.url, "LMO_CLIENT_ID": "x"}, []string{"report", "--username", "u@x"}, "--key-file (or LMO_KEY_FILE) is required"},
		{map[string]string{"LMO_INSTANCE_URL": s.url, "LMO_CLIENT_ID": "x"}, []string{"report", "--username", "u@x", "--key-file", "/nonexistent.key"}, "--key-file"},
		{map[string]string{"LMO_INSTANCE_URL": s.url, "LMO_CLIENT_ID": "lmo-operator", "LMO_CLIENT_SECRET": "wrong-secret-value-42"}, []string{"report"}, "connecting to"},
		{nil, []string{"import", "--package", "123"}, "--package \"123\""},
		{nil, []string{"import"}, "--package is required"},
		{nil, []string{"import", "--package", "033000000000001AAA", "--instance-url", s.url}, "--lmo-ref is required"},
	} {
		r := runEnv(t, tc.vars, nil, tc.args...)
		if r.code != ExitError || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
		if strings.Contains(r.stderr, "wrong-secret-value-42") {
			t.Errorf("%v printed the secret: %q", tc.args, r.stderr)
		}
	}
}

func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	for _, cmd := range []string{"import", "plan", "report"} {
		r := runEnv(t, map[string]string{"LMO_CLIENT_SECRET": "env-secret-value"}, nil, cmd, "--help")
		if r.code != ExitOK || !strings.Contains(r.stdout, "Example:\n") || !strings.Contains(r.stdout, "  lmoctl "+cmd+" ") || !strings.Contains(r.stdout, "-instance-url") {
			t.Errorf("%s --help: exit %d\n%s", cmd, r.code, r.stdout)
		}
		if strings.Contains(r.stdout, "env-secret-value") {
			t.Errorf("%s --help shows the secret from the environment", cmd)
		}
	}
	if r := runEnv(t, nil, nil, "frobnicate"); r.code != ExitError || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", r.code, r.stderr)
	}
	if r := runEnv(t, nil, nil, "plan", "--nope"); r.code != ExitError || !strings.Contains(r.stderr, "-nope") {
		t.Errorf("unknown flag: exit %d, %q", r.code, r.stderr)
	}
}

// A LicenseManagementOrg anyone with edit rights in its namespace can change must not send the
// integration user's secret to a host of their choosing (issue 13): lmoctl --lmo refuses a
// non-Salesforce host before any call, unless the person running it allows the host.
func TestLMOFlagSendsCredentialsOnlyToSalesforce(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-lmo-client", Namespace: "licensing"},
		Data: map[string][]byte{"client-id": []byte("lmo-operator"), "client-secret": []byte(testSecret)}}
	// The check runs before any lookup or call: collector.example need not exist.
	lmo := lmoObject("https://collector.example")
	r := runEnv(t, nil, fakeKube(t, lmo, secret), "report", "--lmo", "acme-lmo", "--namespace", "licensing")
	if r.code != ExitError || !strings.Contains(r.stderr, "not a Salesforce host") || strings.Contains(r.stderr, testSecret) {
		t.Errorf("--lmo with a collector host: exit %d, %q", r.code, r.stderr)
	}
}

// lmosim speaks plain http; a LicenseManagementOrg naming a plain-http URL is refused unless the
// person running lmoctl allows it, before the Secret is read or anything is sent.
func TestLMOFlagRefusesPlainHTTPUnlessAllowed(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-lmo-client", Namespace: "licensing"},
		Data: map[string][]byte{"client-id": []byte("lmo-operator"), "client-secret": []byte(testSecret)}}
	kube := fakeKube(t, lmoObject(s.url), secret)
	s.resetStats(t)
	r := runEnv(t, nil, kube, "report", "--lmo", "acme-lmo", "--namespace", "licensing")
	if r.code != ExitError || !strings.Contains(r.stderr, "spec.instanceURL") || !strings.Contains(r.stderr, "--allow-insecure-loopback-http") {
		t.Errorf("plain http without the flag: exit %d, %q", r.code, r.stderr)
	}
	if calls, _ := s.stats(t); calls["token"] != 0 {
		t.Errorf("the token endpoint was called %d times for a refused plain-http LMO", calls["token"])
	}
	r = runEnv(t, nil, kube, "report", "--lmo", "acme-lmo", "--namespace", "licensing", "--allow-insecure-loopback-http")
	if r.code != ExitOK {
		t.Errorf("plain http with the flag: exit %d, %q", r.code, r.stderr)
	}
}
