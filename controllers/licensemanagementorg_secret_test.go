package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// Status is readable by people who may not read the Secret: what it says about a broken Secret must
// be the same whichever key is absent or malformed, so it does not reveal the Secret's keys.
func TestBrokenSecretMessageDoesNotRevealItsKeys(t *testing.T) {
	const pemKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"
	jwt := licensingv1alpha1.LMOAuth{JWTBearer: &licensingv1alpha1.JWTBearerAuth{SecretRef: licensingv1alpha1.LocalObjectReference{Name: "creds"}}}
	cc := licensingv1alpha1.LMOAuth{ClientCredentials: &licensingv1alpha1.SecretAuth{SecretRef: licensingv1alpha1.LocalObjectReference{Name: "creds"}}}
	groups := []struct {
		name    string
		auth    licensingv1alpha1.LMOAuth
		secrets []map[string]string
	}{
		{"client credentials", cc, []map[string]string{
			{"client-secret": "s3cret"},
			{"client-id": "id"},
			{"client-id": "id", "clientsecret": "s3cret"},
			{},
		}},
		{"JWT bearer", jwt, []map[string]string{
			{"username": "u@x", "private-key": pemKey},
			{"client-id": "id", "private-key": pemKey},
			{"client-id": "id", "username": "u@x"},
			{"client-id": "id", "username": "u@x", "private-key": "not a key"},
			{"client-id": "id", "username": "u@x", "private-key": pemKey[:60]},
		}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			messages := map[string]bool{}
			for _, data := range g.secrets {
				secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "team-a"}, Data: map[string][]byte{}}
				for k, v := range data {
					secret.Data[k] = []byte(v)
				}
				c := newFakeClient(t, secret)
				r := &LicenseManagementOrgReconciler{deps: newTestDeps(c, time.Now())}
				r.apiReader = c
				lmo := &licensingv1alpha1.LicenseManagementOrg{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "team-a"},
					Spec: licensingv1alpha1.LicenseManagementOrgSpec{InstanceURL: "https://acme.my.salesforce.com", Auth: g.auth}}
				_, reason, err := r.credentials(context.Background(), lmo)
				if err == nil {
					t.Fatalf("a broken Secret %v was accepted", keys(data))
				}
				if reason != licensingv1alpha1.ReasonSecretInvalid {
					t.Errorf("reason %q, want %q", reason, licensingv1alpha1.ReasonSecretInvalid)
				}
				msg := err.Error()
				if !strings.Contains(msg, "team-a/creds") || !strings.Contains(msg, "missing or invalid") {
					t.Errorf("message %q does not say the Secret is missing or invalid", msg)
				}
				for _, v := range data {
					if len(v) > 3 && strings.Contains(msg, v) {
						t.Errorf("message %q shows a value", msg)
					}
				}
				messages[msg] = true
			}
			if len(messages) != 1 {
				t.Errorf("the message depends on which key is wrong, so it reveals the Secret's keys: %v", messages)
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The cluster admin's log names what is wrong with a broken Secret once, not at every recheck; a
// different problem, or the same one after the Secret was fixed in between, is logged again.
func TestABrokenSecretIsLoggedOncePerProblem(t *testing.T) {
	var lines []string
	logger := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{})
	ctx := logr.NewContext(context.Background(), logger)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "team-a"}, Data: map[string][]byte{"client-id": []byte("id")}}
	c := newFakeClient(t, secret)
	r := &LicenseManagementOrgReconciler{deps: newTestDeps(c, time.Now())}
	r.apiReader = c
	lmo := &licensingv1alpha1.LicenseManagementOrg{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "team-a"},
		Spec: licensingv1alpha1.LicenseManagementOrgSpec{InstanceURL: "https://acme.my.salesforce.com",
			Auth: licensingv1alpha1.LMOAuth{ClientCredentials: &licensingv1alpha1.SecretAuth{SecretRef: licensingv1alpha1.LocalObjectReference{Name: "creds"}}}}}
	setData := func(data map[string]string) {
		secret.Data = map[string][]byte{}
		for k, v := range data {
			secret.Data[k] = []byte(v)
		}
		if err := c.Update(context.Background(), secret); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		data     map[string]string
		newLines int
	}{
		{map[string]string{"client-id": "id"}, 1},
		{map[string]string{"client-id": "id"}, 0},
		{map[string]string{"client-id": "id"}, 0},
		{map[string]string{"client-secret": "s3cret"}, 1},
		{map[string]string{"client-id": "id", "client-secret": "s3cret"}, 0},
		{map[string]string{"client-secret": "s3cret"}, 1},
	}
	for i, step := range steps {
		setData(step.data)
		before := len(lines)
		_, _, err := r.credentials(ctx, lmo)
		if (err == nil) != (len(step.data) == 2) {
			t.Fatalf("step %d: error %v", i, err)
		}
		if got := len(lines) - before; got != step.newLines {
			t.Errorf("step %d (%v): %d log lines, want %d: %q", i, keys(step.data), got, step.newLines, lines[before:])
		}
	}
}
