package lmoctl

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// connection holds the flags that say how to reach the LMO. Secrets are never printed: flag
// defaults are empty and environment variables are read after parsing.
type connection struct {
	instanceURL, loginURL, apiVersion string
	clientID, clientSecret            string
	username, keyFile                 string
	lmo, namespace                    string
	kubeconfig, kubeContext           string
	// allowHosts are hosts besides Salesforce's own and loopback the connection may name.
	allowHosts string
	// insecureLoopbackHTTP lets --lmo follow a LicenseManagementOrg to a plain-http loopback URL.
	insecureLoopbackHTTP bool
}

// register adds the connection flags to fs.
func (c *connection) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.instanceURL, "instance-url", "", "LMO My Domain URL, e.g. https://acme.my.salesforce.com (env LMO_INSTANCE_URL)")
	fs.StringVar(&c.loginURL, "login-url", "", "OAuth token host, e.g. https://login.salesforce.com; defaults to --instance-url (env LMO_LOGIN_URL)")
	fs.StringVar(&c.apiVersion, "api-version", "", "REST API version (env LMO_API_VERSION; default "+salesforce.DefaultAPIVersion+")")
	fs.StringVar(&c.clientID, "client-id", "", "connected app consumer key (env LMO_CLIENT_ID)")
	fs.StringVar(&c.clientSecret, "client-secret", "", "consumer secret for the client credentials flow; prefer env LMO_CLIENT_SECRET, a flag shows in process listings")
	fs.StringVar(&c.username, "username", "", "integration user for the JWT bearer flow (env LMO_USERNAME)")
	fs.StringVar(&c.keyFile, "key-file", "", "PEM private key that signs the JWT bearer assertion (env LMO_KEY_FILE)")
	fs.StringVar(&c.lmo, "lmo", "", "read the connection from this LicenseManagementOrg and its Secret in the current kubeconfig context")
	fs.StringVar(&c.namespace, "namespace", "", "namespace of --lmo (default: the kubeconfig context's)")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file for --lmo (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&c.kubeContext, "context", "", "kubeconfig context for --lmo (default: the current context)")
	fs.StringVar(&c.allowHosts, "allow-host", "", "comma-separated hosts besides Salesforce's own that the instance or login URL may name (a private gateway); "+
		"credentials go to no other host, whatever a LicenseManagementOrg says")
	fs.BoolVar(&c.insecureLoopbackHTTP, "allow-insecure-loopback-http", false, "with --lmo, accept a LicenseManagementOrg whose URLs are plain http to a loopback address "+
		"(lmosim in development); without it --lmo connects over https only")
}

// extraHosts are the hosts --allow-host names.
func (c *connection) extraHosts() []string {
	var out []string
	for _, h := range strings.Split(c.allowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// KubeFunc returns a reader of the cluster named by a kubeconfig file and context ("" for the
// defaults), and the context's namespace.
type KubeFunc func(kubeconfig, context string) (client.Reader, string, error)

// kubeFromConfig builds a controller-runtime client from the kubeconfig.
func kubeFromConfig(kubeconfig, kubeContext string) (client.Reader, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("--kubeconfig: %w", err)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("--kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	if err := licensingv1alpha1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, ns, nil
}

// config resolves the flags, the environment or the LicenseManagementOrg into a client config.
func (c *connection) config(ctx context.Context, env *Env) (salesforce.Config, error) {
	if c.lmo != "" {
		for name, v := range map[string]string{"--instance-url": c.instanceURL, "--client-id": c.clientID, "--client-secret": c.clientSecret,
			"--username": c.username, "--key-file": c.keyFile} {
			if v != "" {
				return salesforce.Config{}, fmt.Errorf("--lmo and %s are exclusive: the LicenseManagementOrg and its Secret say how to connect", name)
			}
		}
		return c.fromLMO(ctx, env)
	}
	or := func(v *string, key string) {
		if *v == "" {
			*v = env.Getenv(key)
		}
	}
	or(&c.instanceURL, "LMO_INSTANCE_URL")
	or(&c.loginURL, "LMO_LOGIN_URL")
	or(&c.apiVersion, "LMO_API_VERSION")
	or(&c.clientID, "LMO_CLIENT_ID")
	or(&c.clientSecret, "LMO_CLIENT_SECRET")
	or(&c.username, "LMO_USERNAME")
	or(&c.keyFile, "LMO_KEY_FILE")
	cfg := salesforce.Config{InstanceURL: c.instanceURL, LoginURL: c.loginURL, APIVersion: c.apiVersion, ExtraHosts: c.extraHosts()}
	switch {
	case c.instanceURL == "":
		return cfg, errors.New("--instance-url (or LMO_INSTANCE_URL) is required, or use --lmo NAME")
	case c.clientID == "":
		return cfg, errors.New("--client-id (or LMO_CLIENT_ID) is required")
	case c.username != "" || c.keyFile != "":
		if c.username == "" {
			return cfg, errors.New("--username (or LMO_USERNAME) is required with --key-file")
		}
		if c.keyFile == "" {
			return cfg, errors.New("--key-file (or LMO_KEY_FILE) is required with --username")
		}
		key, err := os.ReadFile(c.keyFile)
		if err != nil {
			return cfg, fmt.Errorf("--key-file: %w", err)
		}
		if err := checkPrivateKey(key); err != nil {
			return cfg, fmt.Errorf("--key-file %s: %w", c.keyFile, err)
		}
		cfg.JWTBearer = &salesforce.JWTBearer{ClientID: c.clientID, Username: c.username, PrivateKeyPEM: key}
	case c.clientSecret == "":
		return cfg, errors.New("--client-secret (or LMO_CLIENT_SECRET) is required for the client credentials flow; for JWT bearer give --username and --key-file")
	default:
		cfg.ClientCredentials = &salesforce.ClientCredentials{ClientID: c.clientID, ClientSecret: c.clientSecret}
	}
	return cfg, nil
}

// fromLMO reads the LicenseManagementOrg and its Secret (a plain get) and builds the config. Errors
// name the object and key, never a value.
func (c *connection) fromLMO(ctx context.Context, env *Env) (salesforce.Config, error) {
	kc, ns, err := env.Kube(c.kubeconfig, c.kubeContext)
	if err != nil {
		return salesforce.Config{}, err
	}
	if c.namespace != "" {
		ns = c.namespace
	}
	if ns == "" {
		ns = "default"
	}
	var lmo licensingv1alpha1.LicenseManagementOrg
	if err := kc.Get(ctx, types.NamespacedName{Namespace: ns, Name: c.lmo}, &lmo); err != nil {
		if apierrors.IsNotFound(err) {
			return salesforce.Config{}, fmt.Errorf("--lmo: LicenseManagementOrg %s/%s does not exist", ns, c.lmo)
		}
		return salesforce.Config{}, fmt.Errorf("--lmo: reading LicenseManagementOrg %s/%s: %w", ns, c.lmo, err)
	}
	// The LicenseManagementOrg was written by someone else: plain http only when the person running
	// lmoctl asked for it, checked before the Secret is read.
	for _, f := range []struct{ name, value string }{{"spec.instanceURL", lmo.Spec.InstanceURL}, {"spec.loginURL", lmo.Spec.LoginURL}} {
		if err := salesforce.CheckScheme(f.value, c.insecureLoopbackHTTP); err != nil {
			return salesforce.Config{}, fmt.Errorf("--lmo: LicenseManagementOrg %s/%s %s: %w", ns, c.lmo, f.name, err)
		}
	}
	cfg := salesforce.Config{InstanceURL: lmo.Spec.InstanceURL, LoginURL: lmo.Spec.LoginURL, APIVersion: lmo.Spec.APIVersion, ExtraHosts: c.extraHosts()}
	auth := lmo.Spec.Auth
	var ref licensingv1alpha1.LocalObjectReference
	switch {
	case auth.JWTBearer != nil:
		ref = auth.JWTBearer.SecretRef
	case auth.ClientCredentials != nil:
		ref = auth.ClientCredentials.SecretRef
	default:
		return cfg, fmt.Errorf("--lmo: LicenseManagementOrg %s/%s: spec.auth sets neither jwtBearer nor clientCredentials", ns, c.lmo)
	}
	name := ref.Name
	var secret corev1.Secret
	if err := kc.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return cfg, fmt.Errorf("--lmo: Secret %s/%s does not exist", ns, name)
		}
		return cfg, fmt.Errorf("--lmo: reading Secret %s/%s: %w", ns, name, err)
	}
	need := func(key string) (string, error) {
		if v := string(secret.Data[key]); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("--lmo: Secret %s/%s has no key %q", ns, name, key)
	}
	id, err := need("client-id")
	if err != nil {
		return cfg, err
	}
	if auth.JWTBearer != nil {
		user, err := need("username")
		if err != nil {
			return cfg, err
		}
		key, err := need("private-key")
		if err != nil {
			return cfg, err
		}
		if err := checkPrivateKey([]byte(key)); err != nil {
			return cfg, fmt.Errorf("--lmo: Secret %s/%s key \"private-key\": %w", ns, name, err)
		}
		cfg.JWTBearer = &salesforce.JWTBearer{ClientID: id, Username: user, PrivateKeyPEM: []byte(key), Audience: auth.JWTBearer.Audience}
		return cfg, nil
	}
	secretValue, err := need("client-secret")
	if err != nil {
		return cfg, err
	}
	cfg.ClientCredentials = &salesforce.ClientCredentials{ClientID: id, ClientSecret: secretValue}
	return cfg, nil
}

// checkPrivateKey reports whether key is a PEM RSA private key, without quoting it.
func checkPrivateKey(key []byte) error {
	block, _ := pem.Decode(key)
	if block == nil {
		return errors.New("is not PEM")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return errors.New("is not an RSA private key (PKCS#1 or PKCS#8)")
}

// connect resolves the connection and authenticates (one token call).
func (c *connection) connect(ctx context.Context, env *Env) (*salesforce.Client, error) {
	cfg, err := c.config(ctx, env)
	if err != nil {
		return nil, err
	}
	cl, err := salesforce.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.InstanceURL, err)
	}
	return cl, nil
}
