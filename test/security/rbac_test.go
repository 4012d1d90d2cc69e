package security_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
)

var _ = Describe("RBAC in config/rbac", func() {
	var roles []role

	BeforeEach(func() {
		var err error
		roles, err = loadRoles(filepath.Join(repoRoot, "config", "rbac"))
		Expect(err).NotTo(HaveOccurred())
	})

	find := func(ref roleRef) role {
		GinkgoHelper()
		for _, r := range roles {
			if r.Ref == ref {
				return r
			}
		}
		Fail("config/rbac has no " + ref.String())
		return role{}
	}

	It("reviews the generated manager ClusterRole and every other role", func() {
		Expect(find(managerRole).File).To(Equal("role.yaml"), "the manager's ClusterRole is generated into role.yaml")
		var refs []roleRef
		for _, r := range roles {
			refs = append(refs, r.Ref)
		}
		Expect(refs).To(ContainElements(managerRole, leaderElectionRole, metricsAuthRole, metricsReaderRole, viewerRole, editorRole))
		Expect(find(managerRole).Rules).NotTo(BeEmpty())
	})

	It("grants no wildcard verb, resource, API group or URL", func() {
		Expect(wildcardViolations(roles)).To(BeEmpty())
	})

	It("never writes, lists or watches Secrets", func() {
		Expect(secretViolations(roles)).To(BeEmpty())
	})

	It("grants nothing outside the allowlist", func() {
		Expect(allowlistViolations(roles)).To(BeEmpty())
	})

	Describe("the roles for teams", func() {
		readVerbs := []string{"get", "list", "watch"}

		It("gives leader election only the Lease verbs it uses: get, create, update", func() {
			lease := find(leaderElectionRole)
			var verbs []string
			for _, rule := range lease.Rules {
				for _, g := range grants(rule) {
					if g.Resource == "leases" {
						verbs = append(verbs, g.Verb)
					}
				}
			}
			Expect(verbs).To(ConsistOf("get", "create", "update"))
		})

		It("lets the viewer read the three kinds and nothing more", func() {
			viewer := find(viewerRole)
			for _, kind := range licensingKinds {
				for _, verb := range readVerbs {
					Expect(holds(viewer, "licensing.lmo-operator.dev", kind, verb)).To(BeTrue(), "viewer cannot %s %s", verb, kind)
				}
			}
			for _, rule := range viewer.Rules {
				for _, g := range grants(rule) {
					Expect(readVerbs).To(ContainElement(g.Verb), "viewer may %s", g)
				}
			}
		})

		It("lets the editor manage Licenses and ManagedPackages, read LicenseManagementOrgs, and forge no status", func() {
			editor := find(editorRole)
			for _, kind := range []string{"licenses", "managedpackages"} {
				for _, verb := range objectVerbs {
					Expect(holds(editor, "licensing.lmo-operator.dev", kind, verb)).To(BeTrue(), "editor cannot %s %s", verb, kind)
				}
			}
			// A LicenseManagementOrg says where the integration user's credentials go: platform admins
			// create and change it, not every namespace editor (the edit role aggregates this one).
			for _, verb := range readVerbs {
				Expect(holds(editor, "licensing.lmo-operator.dev", "licensemanagementorgs", verb)).To(BeTrue(), "editor cannot %s licensemanagementorgs", verb)
			}
			for _, verb := range []string{"create", "update", "patch", "delete"} {
				Expect(holds(editor, "licensing.lmo-operator.dev", "licensemanagementorgs", verb)).To(BeFalse(), "editor may %s licensemanagementorgs", verb)
			}
			for _, kind := range licensingKinds {
				for _, verb := range []string{"create", "update", "patch", "delete"} {
					Expect(holds(editor, "licensing.lmo-operator.dev", kind+"/status", verb)).To(BeFalse(),
						"editor may %s %s/status, which only the operator sets", verb, kind)
				}
			}
		})
	})
})

// The checker's own cases: each feeds it one rule and asserts what it reports, so a check that
// silently passes everything fails here.
var _ = Describe("The RBAC checker", func() {
	type check func([]role) []string

	DescribeTable("reports a rule that breaks the policy",
		func(ref roleRef, rule rbacv1.PolicyRule, run check, want string) {
			got := run([]role{{Ref: ref, File: "bad.yaml", Rules: []rbacv1.PolicyRule{rule}}})
			Expect(got).To(ContainElement(ContainSubstring(want)))
		},
		Entry("list of Secrets", managerRole,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}},
			check(secretViolations), "list on secrets"),
		Entry("watch of Secrets", managerRole,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"watch"}},
			check(secretViolations), "watch on secrets"),
		Entry("update of Secrets", managerRole,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"update"}},
			check(secretViolations), "update on secrets"),
		Entry("a wildcard verb", managerRole,
			rbacv1.PolicyRule{APIGroups: []string{"licensing.lmo-operator.dev"}, Resources: []string{"licenses"}, Verbs: []string{"*"}},
			check(wildcardViolations), `wildcard "*" in verbs`),
		Entry("a wildcard resource", managerRole,
			rbacv1.PolicyRule{APIGroups: []string{"licensing.lmo-operator.dev"}, Resources: []string{"*"}, Verbs: []string{"get"}},
			check(wildcardViolations), `wildcard "*" in resources`),
		Entry("a wildcard API group", managerRole,
			rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"licenses"}, Verbs: []string{"get"}},
			check(wildcardViolations), `wildcard "*" in apiGroups`),
		Entry("a resource outside the allowlist", managerRole,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}},
			check(allowlistViolations), "get on pods (group core) is not on the allowlist"),
		Entry("Leases in a ClusterRole", roleRef{Kind: "ClusterRole", Name: "leader-election-role"},
			rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}},
			check(allowlistViolations), "get on leases"),
		Entry("Secrets read by a team role", viewerRole,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
			check(allowlistViolations), "get on secrets"),
	)

	It("accepts the rules the manager needs", func() {
		ok := []role{{Ref: managerRole, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
			{APIGroups: []string{"licensing.lmo-operator.dev"}, Resources: []string{"licenses/status"}, Verbs: []string{"get", "patch"}},
		}}}
		Expect(wildcardViolations(ok)).To(BeEmpty())
		Expect(secretViolations(ok)).To(BeEmpty())
		Expect(allowlistViolations(ok)).To(BeEmpty())
	})
})
