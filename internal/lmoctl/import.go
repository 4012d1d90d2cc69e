package lmoctl

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const importSynopsis = `lmoctl import: write a License (managementPolicy Observe, the record's current terms) for every
license of a package that is not Uninstalled and whose subscriber org the LMA does not record as
deleted or pending deletion (those are named on stderr), and the ManagedPackage, ready to commit. Applying the
output and letting the operator sync leaves every License Ready with no write to the LMO.

Names are the customer's name (the account, else the lead's company) as a DNS name, followed by a
short suffix of the subscriber org id that keeps them unique and stable (globex-corporation-4xyz1eak);
a license without a customer is named by the subscriber org's 18-character id in lower case. The
license id is appended, and spec.licenseID pinned, when a subscriber has several live licenses. The
customer's name is recorded in the annotation licensing.lmo-operator.dev/customer. With --out, files go to
DIR/managedpackage.yaml, DIR/licenses/NAME.yaml and DIR/kustomization.yaml; without it, one YAML
stream goes to stdout. Progress goes to stderr.

Usage: lmoctl import --package 033... [--out DIR] [--namespace NS] [--lmo-ref NAME] [connection flags]`

const importExample = `  export LMO_CLIENT_SECRET=...   # or use --lmo acme-lmo to read it from the cluster
  lmoctl import --package 033000000000001AAA --out gitops/acme-projects \
    --instance-url https://acme.my.salesforce.com --client-id 3MVG9... --lmo-ref acme-lmo
  lmoctl import --package 033000000000001AAA --lmo acme-lmo --namespace licensing | kubectl apply -f -`

var packageIDPattern = regexp.MustCompile(`^033[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$`)

type importOptions struct {
	conn        connection
	packageID   string
	out         string
	packageName string
	lmoRef      string
	namePrefix  string
}

// bindImport registers import's flags.
func bindImport(fs *pflag.FlagSet) func(context.Context, *Env) (int, error) {
	o := &importOptions{}
	fs.StringVar(&o.packageID, "package", "", "the package's 033 id (required)")
	fs.StringVar(&o.out, "out", "", "directory to write the YAML files to (default: one stream on stdout)")
	fs.StringVar(&o.packageName, "package-name", "", "name of the generated ManagedPackage (default: from the package's name)")
	fs.StringVar(&o.lmoRef, "lmo-ref", "", "the LicenseManagementOrg the ManagedPackage points at (default: --lmo)")
	fs.StringVar(&o.namePrefix, "name-prefix", "", "prefix of every License name, e.g. acme- when several packages share a namespace")
	o.conn.register(fs)
	return func(ctx context.Context, env *Env) (int, error) { return runImport(ctx, o, env) }
}

func runImport(ctx context.Context, o *importOptions, env *Env) (int, error) {
	switch {
	case o.packageID == "":
		return ExitError, fmt.Errorf("--package is required: the 033 id of the package to import")
	case !packageIDPattern.MatchString(o.packageID):
		return ExitError, fmt.Errorf("--package %q: want a 033 package id of 15 or 18 characters", o.packageID)
	}
	if o.lmoRef == "" {
		o.lmoRef = o.conn.lmo
	}
	if o.lmoRef == "" {
		return ExitError, fmt.Errorf("--lmo-ref is required without --lmo: the name of the LicenseManagementOrg the ManagedPackage points at")
	}
	if o.packageName != "" && dnsName(o.packageName) != o.packageName {
		return ExitError, fmt.Errorf("--package-name %q: want a lower-case DNS name such as %q", o.packageName, dnsName(o.packageName))
	}
	if p := dnsName(o.namePrefix + "x"); o.namePrefix != "" && p != o.namePrefix+"x" {
		return ExitError, fmt.Errorf("--name-prefix %q: want lower-case letters, digits and '-'", o.namePrefix)
	}
	c, err := o.conn.connect(ctx, env)
	if err != nil {
		return ExitError, err
	}
	docs, err := importPackage(ctx, c, o, env)
	if err != nil {
		return ExitError, err
	}
	if o.out == "" {
		for i, d := range docs {
			if i > 0 {
				fmt.Fprintln(env.Stdout, "---")
			}
			if _, err := env.Stdout.Write(d.content); err != nil {
				return ExitError, err
			}
		}
		return ExitOK, nil
	}
	if err := writeDocs(o.out, docs, env); err != nil {
		return ExitError, err
	}
	return ExitOK, nil
}

// importedDoc is one generated file.
type importedDoc struct {
	// path is relative to the output directory.
	path    string
	content []byte
}

type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type licenseDoc struct {
	APIVersion string                        `json:"apiVersion"`
	Kind       string                        `json:"kind"`
	Metadata   objectMeta                    `json:"metadata"`
	Spec       licensingv1alpha1.LicenseSpec `json:"spec"`
}

type packageDoc struct {
	APIVersion string                               `json:"apiVersion"`
	Kind       string                               `json:"kind"`
	Metadata   objectMeta                           `json:"metadata"`
	Spec       licensingv1alpha1.ManagedPackageSpec `json:"spec"`
}

var apiVersion = licensingv1alpha1.GroupVersion.String()

// importPackage reads the package's live licenses and values (two Composite calls) and renders the
// ManagedPackage and one License per license.
func importPackage(ctx context.Context, c *salesforce.Client, o *importOptions, env *Env) ([]importedDoc, error) {
	live := " AND sfLma__Status__c != 'Uninstalled'"
	read := newProgress(env, "Read", "licenses")
	recs, err := loadPackages(ctx, c, []string{o.packageID}, live, func(n int) { read.update(n, 0) })
	read.done()
	if err != nil {
		return nil, err
	}
	pkg, ok := recs.packages[sfid.Key15(o.packageID)]
	if !ok {
		return nil, fmt.Errorf("--package %s: the LMO has no such package (a package not associated with the LMO has no license records)", o.packageID)
	}
	var writable []salesforce.FeatureParameter
	for _, p := range recs.params[sfid.Key15(o.packageID)] {
		if p.DataFlowDirection == salesforce.DirectionToSubscriber {
			writable = append(writable, p)
		}
	}
	if len(writable) > 0 && len(recs.licenses) > 0 {
		if err := recs.loadValues(ctx, c, writable, " AND sfFma__License__r.sfLma__Status__c != 'Uninstalled'"); err != nil {
			return nil, err
		}
	}
	sort.Slice(writable, func(i, j int) bool { return writable[i].FullName < writable[j].FullName })

	mpName := o.packageName
	if mpName == "" {
		mpName = dnsName(pkg.Name)
	}
	if mpName == "" {
		mpName = "package-" + strings.ToLower(sfid.To18(pkg.PackageID))
	}
	ns := o.conn.namespace
	mp := packageDoc{APIVersion: apiVersion, Kind: "ManagedPackage", Metadata: objectMeta{Name: mpName, Namespace: ns},
		Spec: licensingv1alpha1.ManagedPackageSpec{LMORef: licensingv1alpha1.LocalObjectReference{Name: o.lmoRef},
			PackageID: pkg.PackageID, DefaultsPolicy: licensingv1alpha1.PolicyObserve}}
	mpYAML, err := yaml.Marshal(mp)
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("# Package %s (%s), imported by lmoctl. The Partner Console's default license settings have\n"+
		"# no API: add spec.defaults to have the operator check new installs against them.\n", pkg.Name, pkg.PackageID)
	docs := []importedDoc{{path: "managedpackage.yaml", content: append([]byte(header), mpYAML...)}}

	// A license whose subscriber org is gone gets no License: the operator would only report it as
	// SubscriberOrgDeleted, and a bootstrapped repository should apply with every License Ready.
	kept := recs.licenses[:0]
	for _, l := range recs.licenses {
		if gone := l.SubscriberOrgGone(); gone != "" {
			who := ""
			if c := l.Customer(); c != "" {
				who = " (" + commentText(c) + ")"
			}
			fmt.Fprintf(env.Stderr, "Left out license record %s%s: %s\n", l.ID, who, gone)
			continue
		}
		kept = append(kept, l)
	}
	recs.licenses = kept
	bySubscriber := map[string]int{}
	for _, l := range recs.licenses {
		bySubscriber[sfid.Key15(l.SubscriberOrgID)]++
	}
	used := map[string]bool{}
	empty := map[string]int{}
	rendered := newProgress(env, "Rendered", "Licenses")
	defer rendered.done() // also when an error returns early, so the error starts a clean line
	for i, l := range recs.licenses {
		for _, p := range writable {
			if recs.values[sfid.Key15(l.ID)][p.FullName] == "" {
				empty[p.FullName]++
			}
		}
		spec, warnings := licenseSpec(l, recs.values[sfid.Key15(l.ID)], writable, mpName)
		pinned := l.SubscriberOrgID == "" || bySubscriber[sfid.Key15(l.SubscriberOrgID)] > 1
		customer := l.Customer()
		name := importedName(o.namePrefix, customer, l, pinned)
		if pinned {
			spec.SubscriberOrgID, spec.LicenseID = "", l.ID
		}
		name = uniqueName(dnsName(name), used)
		for _, w := range warnings {
			rendered.printf("Warning: License %s (record %s): %s\n", name, l.ID, w)
		}
		meta := objectMeta{Name: name, Namespace: ns}
		if customer != "" {
			meta.Annotations = map[string]string{licensingv1alpha1.AnnotationCustomer: customer}
		}
		b, err := yaml.Marshal(licenseDoc{APIVersion: apiVersion, Kind: "License", Metadata: meta, Spec: spec})
		if err != nil {
			return nil, err
		}
		comment := fmt.Sprintf("# License record %s (%s) of subscriber %s, imported by lmoctl.\n", l.ID, l.Name, l.SubscriberOrgID)
		if customer != "" {
			comment = fmt.Sprintf("# License record %s (%s) of %s, subscriber %s, imported by lmoctl.\n", l.ID, l.Name, commentText(customer), l.SubscriberOrgID)
		}
		docs = append(docs, importedDoc{path: filepath.Join("licenses", name+".yaml"), content: append([]byte(comment), b...)})
		rendered.update(i+1, len(recs.licenses))
	}
	rendered.done()
	for _, p := range writable {
		if n := empty[p.FullName]; n > 0 {
			fmt.Fprintf(env.Stderr, "Note: %d licenses have no value of feature parameter %s; their Licenses leave it unmanaged\n", n, p.FullName)
		}
	}
	sort.Slice(docs[1:], func(i, j int) bool { return docs[1+i].path < docs[1+j].path })
	fmt.Fprintf(env.Stderr, "Imported %d Licenses of package %s (%s)\n", len(recs.licenses), pkg.PackageID, pkg.Name)
	return docs, nil
}

// licenseSpec is the Observe spec that matches a record exactly, and warnings for the values a
// spec cannot express (left unmanaged).
func licenseSpec(l salesforce.License, values map[string]string, writable []salesforce.FeatureParameter, pkgName string) (licensingv1alpha1.LicenseSpec, []string) {
	var warnings []string
	spec := licensingv1alpha1.LicenseSpec{
		PackageRef:       licensingv1alpha1.LocalObjectReference{Name: pkgName},
		SubscriberOrgID:  l.SubscriberOrgID,
		Status:           licensingv1alpha1.LicenseStatus(l.Status),
		ManagementPolicy: licensingv1alpha1.PolicyObserve,
	}
	switch {
	case l.Seats == nil:
		warnings = append(warnings, "the record has no seats; spec.seats is left unmanaged")
	case *l.Seats < 0:
		s := intstr.FromString(licensingv1alpha1.SiteLicense)
		spec.Seats = &s
	case *l.Seats >= 1 && *l.Seats <= salesforce.MaxSeats:
		s := intstr.FromInt32(int32(*l.Seats))
		spec.Seats = &s
	default:
		warnings = append(warnings, fmt.Sprintf("seats %v cannot be written in a spec (1..99000000 or SiteLicense); spec.seats is left unmanaged", *l.Seats))
	}
	if l.NeverExpires() {
		spec.Expiration = licensingv1alpha1.Never
	} else {
		spec.Expiration = l.Expiration.String()
	}
	for _, p := range writable {
		text := values[p.FullName]
		if text == "" {
			continue // an empty value cannot be written in a spec: the parameter stays unmanaged
		}
		v := licensingv1alpha1.FeatureParameterValue{Name: p.FullName}
		switch p.DataType {
		case salesforce.DataTypeBoolean:
			b := text == "true"
			v.Boolean = &b
		case salesforce.DataTypeInteger:
			n, err := strconv.ParseInt(text, 10, 64)
			if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
				warnings = append(warnings, fmt.Sprintf("feature parameter %s value %s is outside the spec's integer range; it is left unmanaged", p.FullName, text))
				continue
			}
			v.Integer = &n
		case salesforce.DataTypeDate:
			d := text
			v.Date = &d
		default:
			continue
		}
		spec.FeatureParameters = append(spec.FeatureParameters, v)
	}
	return spec, warnings
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// dnsName turns s into a lower-case DNS label: runs of other characters become '-', at most 63.
func dnsName(s string) string {
	s = strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

// orgSuffixLength is how many characters of the 15-character subscriber org id end a customer's
// License name, before the id's 3-character case suffix.
const orgSuffixLength = 5

// importedName is the name of the License of record l: the customer's name as a DNS label and a
// short, case-safe suffix of the subscriber org id (the last characters of the 15-character id and
// the 18-character id's case suffix, lower case), so that two customers of one name, or one whose
// name changes spelling, still get distinct names that stay the same from one import to the next.
// Without a customer (or one with no letter or digit a DNS name can hold) it is the 18-character org
// id, as before. pinned appends the license id.
func importedName(prefix, customer string, l salesforce.License, pinned bool) string {
	org := strings.ToLower(sfid.To18(l.SubscriberOrgID))
	tail := ""
	if pinned {
		tail = "-" + strings.ToLower(sfid.To18(l.ID))
	}
	slug := dnsName(foldLatin(customer))
	if slug == "" || len(org) != 18 {
		return prefix + org + tail
	}
	suffix := "-" + org[15-orgSuffixLength:]
	room := 63 - len(prefix) - len(suffix) - len(tail)
	if len(slug) > room {
		slug = strings.TrimRight(slug[:room], "-")
	}
	return prefix + slug + suffix + tail
}

// latinFold spells the accented Latin letters common in company names without their marks, so
// that "Müller & Söhne" becomes a readable DNS name (muller-sohne) rather than m-ller-s-hne.
var latinFold = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'þ': "th", 'ð': "d"}
	for base, letters := range map[string]string{
		"a": "àáâãäåāăąÀÁÂÃÄÅĀĂĄ", "c": "çćĉċčÇĆĈĊČ", "e": "èéêëēĕėęěÈÉÊËĒĔĖĘĚ", "g": "ĝğġģĜĞĠĢ",
		"i": "ìíîïĩīĭįıÌÍÎÏĨĪĬĮİ", "n": "ñńņňÑŃŅŇ", "o": "òóôõöōŏőÒÓÔÕÖŌŎŐ", "r": "ŕŗřŔŖŘ",
		"s": "śŝşšŚŜŞŠș", "t": "ţťŢŤț", "u": "ùúûüũūŭůűųÙÚÛÜŨŪŬŮŰŲ", "y": "ýÿŷÝŸŶ", "z": "źżžŹŻŽ",
	} {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// foldLatin replaces accented Latin letters by their plain spelling; other runes are kept.
func foldLatin(s string) string {
	var b strings.Builder
	for _, r := range s {
		if f, ok := latinFold[r]; ok {
			b.WriteString(f)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// commentText makes a value from the LMO safe for a one-line YAML comment.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r < 0x20 {
			return ' '
		}
		return r
	}, s)
}

// uniqueName returns name, or name-2, name-3… when taken, and marks it taken.
func uniqueName(name string, used map[string]bool) string {
	out := name
	for i := 2; used[out]; i++ {
		out = name + "-" + strconv.Itoa(i)
	}
	used[out] = true
	return out
}

// writeDocs writes the files and a kustomization.yaml listing them.
func writeDocs(dir string, docs []importedDoc, env *Env) error {
	if err := os.MkdirAll(filepath.Join(dir, "licenses"), 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	var kust bytes.Buffer
	kust.WriteString("# Written by lmoctl import.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	wrote := newProgress(env, "Wrote", "files")
	defer wrote.done()
	for i, d := range docs {
		if err := os.WriteFile(filepath.Join(dir, d.path), d.content, 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(&kust, "- %s\n", filepath.ToSlash(d.path))
		wrote.update(i+1, len(docs))
	}
	wrote.done()
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), kust.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Wrote %d files and kustomization.yaml to %s\n", len(docs), dir)
	return nil
}
