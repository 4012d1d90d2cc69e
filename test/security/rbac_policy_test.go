package security_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// This file holds the RBAC policy the operator is held to, as tables a reviewer can read, and the
// checker that applies them to the roles in config/rbac. rbac_test.go runs it.

// roleRef names a Role or ClusterRole as written in config/rbac, before kustomize adds its namePrefix.
type roleRef struct {
	Kind string
	Name string
}

func (r roleRef) String() string { return r.Kind + "/" + r.Name }

// The roles the policy tables refer to by name.
var (
	managerRole        = roleRef{Kind: "ClusterRole", Name: "manager-role"}
	leaderElectionRole = roleRef{Kind: "Role", Name: "leader-election-role"}
	metricsAuthRole    = roleRef{Kind: "ClusterRole", Name: "metrics-auth-role"}
	metricsReaderRole  = roleRef{Kind: "ClusterRole", Name: "metrics-reader"}
	viewerRole         = roleRef{Kind: "ClusterRole", Name: "licensing-viewer-role"}
	editorRole         = roleRef{Kind: "ClusterRole", Name: "licensing-editor-role"}
)

// role is one Role or ClusterRole and the file it came from.
type role struct {
	Ref   roleRef
	File  string
	Rules []rbacv1.PolicyRule
}

// grant is one permission a rule gives: a verb on an API group's resource, or on a non-resource URL.
type grant struct {
	Group    string
	Resource string
	URL      string
	Verb     string
}

func (g grant) String() string {
	if g.URL != "" {
		return fmt.Sprintf("%s on URL %s", g.Verb, g.URL)
	}
	group := g.Group
	if group == "" {
		group = "core"
	}
	return fmt.Sprintf("%s on %s (group %s)", g.Verb, g.Resource, group)
}

// grants expands a rule into every (group, resource, verb) and (URL, verb) it allows.
func grants(rule rbacv1.PolicyRule) []grant {
	var out []grant
	for _, verb := range rule.Verbs {
		for _, group := range rule.APIGroups {
			for _, resource := range rule.Resources {
				out = append(out, grant{Group: group, Resource: resource, Verb: verb})
			}
		}
		for _, url := range rule.NonResourceURLs {
			out = append(out, grant{URL: url, Verb: verb})
		}
	}
	return out
}

// wildcardFields are the parts of a rule where "*" would grant more than anyone reviewed: a wildcard
// verb includes escalate, bind and impersonate; a wildcard resource or group includes every kind
// installed later, by any operator, without this file changing.
var wildcardFields = []struct {
	Field  string
	Values func(rbacv1.PolicyRule) []string
}{
	{Field: "verbs", Values: func(r rbacv1.PolicyRule) []string { return r.Verbs }},
	{Field: "apiGroups", Values: func(r rbacv1.PolicyRule) []string { return r.APIGroups }},
	{Field: "resources", Values: func(r rbacv1.PolicyRule) []string { return r.Resources }},
	{Field: "nonResourceURLs", Values: func(r rbacv1.PolicyRule) []string { return r.NonResourceURLs }},
}

// forbiddenSecretVerbs are the verbs on core Secrets that no role may hold. The manager reads the
// credentials a LicenseManagementOrg names with get only, through an uncached reader.
var forbiddenSecretVerbs = []struct {
	Verb string
	Why  string
}{
	{Verb: "list", Why: "a list returns every Secret in scope, not only the ones a LicenseManagementOrg names"},
	{Verb: "watch", Why: "a watch streams every Secret in scope and backs an informer cache that keeps them all in the manager's memory"},
	{Verb: "create", Why: "the operator never writes credentials; users and their secret stores do"},
	{Verb: "update", Why: "the operator never writes credentials; users and their secret stores do"},
	{Verb: "patch", Why: "the operator never writes credentials; users and their secret stores do"},
	{Verb: "delete", Why: "the operator never removes credentials it does not own"},
	{Verb: "deletecollection", Why: "the operator never removes credentials it does not own"},
}

// allowance is one entry of the allowlist: the verbs a role may hold on some resources or URLs.
type allowance struct {
	Group     string
	Resources []string
	URLs      []string
	Verbs     []string
	// In lists the only roles that may hold this grant; empty means any role in config/rbac.
	In  []roleRef
	Why string
}

var (
	licensingKinds = []string{"licenses", "managedpackages", "licensemanagementorgs"}
	objectVerbs    = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
)

// subresources returns kind/sub for each licensing kind.
func subresources(sub string) []string {
	out := make([]string, 0, len(licensingKinds))
	for _, kind := range licensingKinds {
		out = append(out, kind+"/"+sub)
	}
	return out
}

// allowlist is everything a role in config/rbac may grant. A grant that matches no entry fails the
// review: adding access means adding a line here, with its reason, for a reviewer to accept.
var allowlist = []allowance{
	{
		Group: "licensing.lmo-operator.dev", Resources: licensingKinds, Verbs: objectVerbs,
		Why: "the operator's own kinds: the manager reconciles them, the editor and viewer roles let teams use them",
	},
	{
		Group: "licensing.lmo-operator.dev", Resources: subresources("status"), Verbs: []string{"get", "update", "patch"},
		Why: "the manager reports what it observed in the LMO through the status subresource",
	},
	{
		Group: "licensing.lmo-operator.dev", Resources: subresources("finalizers"), Verbs: []string{"get", "update", "patch"},
		Why: "the manager holds a finalizer where deletion must release an LMO record first (OwnerReferencesPermissionEnforcement checks it)",
	},
	{
		Group: "", Resources: []string{"events"}, Verbs: []string{"create", "patch"},
		In:  []roleRef{managerRole, leaderElectionRole},
		Why: "the manager records Events for writes, held changes and terminal states; patch aggregates repeats",
	},
	{
		Group: "events.k8s.io", Resources: []string{"events"}, Verbs: []string{"create", "patch"},
		In:  []roleRef{managerRole, leaderElectionRole},
		Why: "the same Events through the events.k8s.io API, which newer recorders use",
	},
	{
		Group: "", Resources: []string{"secrets"}, Verbs: []string{"get"},
		In:  []roleRef{managerRole},
		Why: "the manager reads the Salesforce credentials a LicenseManagementOrg names, one by name, uncached",
	},
	{
		Group: "coordination.k8s.io", Resources: []string{"leases"}, Verbs: objectVerbs,
		In:  []roleRef{leaderElectionRole},
		Why: "leader election holds one Lease, in the manager's own namespace only, so a namespaced Role",
	},
	{
		Group: "authentication.k8s.io", Resources: []string{"tokenreviews"}, Verbs: []string{"create"},
		In:  []roleRef{metricsAuthRole},
		Why: "the https metrics endpoint authenticates scrapers' bearer tokens",
	},
	{
		Group: "authorization.k8s.io", Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"},
		In:  []roleRef{metricsAuthRole},
		Why: "the https metrics endpoint checks that an authenticated scraper may get /metrics",
	},
	{
		URLs: []string{"/metrics"}, Verbs: []string{"get"},
		In:  []roleRef{metricsReaderRole},
		Why: "bound to the Prometheus service account that scrapes the manager; nothing else",
	},
}

// allows reports whether the allowance covers grant g held by role ref.
func (a allowance) allows(ref roleRef, g grant) bool {
	if len(a.In) > 0 && !slices.Contains(a.In, ref) {
		return false
	}
	if !slices.Contains(a.Verbs, g.Verb) {
		return false
	}
	if g.URL != "" {
		return slices.Contains(a.URLs, g.URL)
	}
	return a.Group == g.Group && slices.Contains(a.Resources, g.Resource)
}

// wildcardViolations reports every "*" (or pattern containing one) in any rule of the roles.
func wildcardViolations(roles []role) []string {
	var out []string
	for _, r := range roles {
		for i, rule := range r.Rules {
			for _, f := range wildcardFields {
				for _, v := range f.Values(rule) {
					if strings.Contains(v, "*") {
						out = append(out, fmt.Sprintf("%s rule %d: wildcard %q in %s", r.Ref, i, v, f.Field))
					}
				}
			}
		}
	}
	return sorted(out)
}

// secretViolations reports every forbidden verb on core Secrets, with the reason it is forbidden.
func secretViolations(roles []role) []string {
	var out []string
	for _, r := range roles {
		for i, rule := range r.Rules {
			for _, g := range grants(rule) {
				if g.Group != "" || g.Resource != "secrets" {
					continue
				}
				for _, f := range forbiddenSecretVerbs {
					if g.Verb == f.Verb {
						out = append(out, fmt.Sprintf("%s rule %d: %s: %s", r.Ref, i, g, f.Why))
					}
				}
			}
		}
	}
	return sorted(out)
}

// allowlistViolations reports every grant that no allowlist entry covers for the role holding it.
func allowlistViolations(roles []role) []string {
	var out []string
	for _, r := range roles {
		for i, rule := range r.Rules {
			for _, g := range grants(rule) {
				if !slices.ContainsFunc(allowlist, func(a allowance) bool { return a.allows(r.Ref, g) }) {
					out = append(out, fmt.Sprintf("%s rule %d: %s is not on the allowlist", r.Ref, i, g))
				}
			}
		}
	}
	return sorted(out)
}

// holds reports whether any of the role's rules grants verb on resource in group.
func holds(r role, group, resource, verb string) bool {
	for _, rule := range r.Rules {
		if slices.Contains(grants(rule), grant{Group: group, Resource: resource, Verb: verb}) {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}

// loadRoles reads every Role and ClusterRole in the YAML files of dir. Fields it does not know fail
// the load, so a misspelt "verb:" cannot hide a rule from the review.
func loadRoles(dir string) ([]role, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var roles []role
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if meta.Kind != "Role" && meta.Kind != "ClusterRole" {
				continue
			}
			// A Role has the shape of a ClusterRole without aggregationRule.
			var cr rbacv1.ClusterRole
			if err := yaml.UnmarshalStrict(doc, &cr); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if cr.AggregationRule != nil {
				return nil, fmt.Errorf("%s: %s/%s aggregates other roles, so its rules cannot be reviewed from the file", file, meta.Kind, cr.Name)
			}
			roles = append(roles, role{
				Ref:   roleRef{Kind: meta.Kind, Name: cr.Name},
				File:  filepath.Base(file),
				Rules: cr.Rules,
			})
		}
	}
	return roles, nil
}
