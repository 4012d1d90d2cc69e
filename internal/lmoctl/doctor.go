package lmoctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
)

const doctorSynopsis = `lmoctl doctor: check, before the operator runs, that an LMO is ready for it, as flux check does for
a cluster: authentication, the API version, a production org, the License Management App and the
Feature Management App, the integration user's edit access to exactly the fields the operator writes,
field history tracking (drift attribution), the License record types (the status the LMA page shows),
the License Type field and how many licenses it marks as not editable, and the API allocation left (the org's and the connected
app's). Each check prints pass, warn or fail with what to do. It only reads: no record is written.

Exit status: 0 every check passed or warned, 1 a check failed (or lmoctl itself failed).

Usage: lmoctl doctor [-o table|json] [connection flags]`

const doctorExample = `  lmoctl doctor --lmo acme-lmo --namespace licensing
  lmoctl doctor -o json --instance-url https://acme.my.salesforce.com --client-id 3MVG9... \
    --username ci@acme.example --key-file ci.key`

// Results of a doctor check.
const (
	CheckPass = "pass"
	CheckWarn = "warn"
	CheckFail = "fail"
)

// Doctor is `lmoctl doctor -o json`: every check in the order it ran. The shape is stable: fields
// are only ever added.
type Doctor struct {
	Checks  []Check       `json:"checks"`
	Summary DoctorSummary `json:"summary"`
}

// Check is one preflight check.
type Check struct {
	// Name says what was checked.
	Name string `json:"name"`
	// Result is pass, warn or fail.
	Result string `json:"result"`
	// Detail is what was found.
	Detail string `json:"detail"`
	// Advice says what to do; empty on a pass.
	Advice string `json:"advice,omitempty"`
}

// DoctorSummary counts the checks by result.
type DoctorSummary struct {
	Pass int `json:"pass"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// Reserve thresholds of the API allocation check: under warnRemaining of the allocation left the
// operator's default reserve (20%) holds writes back; under failRemaining it will barely run.
const (
	warnRemaining = 0.20
	failRemaining = 0.05
)

// doctorOptions are doctor's flags.
type doctorOptions struct {
	conn   connection
	output string
}

// bindDoctor registers doctor's flags.
func bindDoctor(fs *pflag.FlagSet) func(context.Context, *Env) (int, error) {
	o := &doctorOptions{}
	fs.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	o.conn.register(fs)
	return func(ctx context.Context, env *Env) (int, error) { return runDoctor(ctx, o, env) }
}

func runDoctor(ctx context.Context, o *doctorOptions, env *Env) (int, error) {
	conn, output := o.conn, o.output
	format, err := outputFormat(output)
	if err != nil {
		return ExitError, err
	}
	cfg, err := conn.config(ctx, env)
	if err != nil {
		return ExitError, err
	}
	d := diagnose(ctx, cfg)
	if err := writeDoctor(env.Stdout, d, format); err != nil {
		return ExitError, err
	}
	if d.Summary.Fail > 0 {
		return ExitError, nil
	}
	return ExitOK, nil
}

// diagnose runs every check against the org of cfg. Later checks are skipped when one they depend
// on failed (no session, no LMA).
func diagnose(ctx context.Context, cfg salesforce.Config) *Doctor {
	d := &Doctor{}
	add := func(c Check) { d.Checks = append(d.Checks, c) }
	defer d.count()

	c, err := salesforce.New(ctx, cfg)
	if err != nil {
		add(Check{Name: "authentication", Result: CheckFail, Detail: err.Error(), Advice: authAdvice(err)})
		return d
	}
	add(Check{Name: "authentication", Result: CheckPass, Detail: "Signed in to " + c.InstanceURL()})

	if versions, err := c.Versions(ctx); err != nil {
		add(Check{Name: "api version", Result: CheckFail, Detail: "Listing the API versions: " + err.Error(), Advice: "Check that instanceURL is the org's My Domain URL"})
	} else {
		var known []string
		for _, v := range versions {
			known = append(known, v.Version)
		}
		if slices.Contains(known, c.APIVersion()) {
			add(Check{Name: "api version", Result: CheckPass, Detail: "The org serves API version " + c.APIVersion()})
		} else {
			add(Check{Name: "api version", Result: CheckFail, Detail: "The org does not serve API version " + c.APIVersion(),
				Advice: "Set spec.apiVersion to one the org serves: " + strings.Join(lastN(known, 5), ", ")})
		}
	}

	if org, err := c.Organization(ctx); err != nil {
		add(Check{Name: "production org", Result: CheckFail, Detail: "Reading the Organization record: " + err.Error(),
			Advice: "Give the integration user the API Enabled permission and read access to the org"})
	} else {
		kind := ""
		switch {
		case org.IsSandbox:
			kind = "a sandbox"
		case !org.TrialExpirationDate.IsZero():
			kind = "a trial org"
		case org.OrganizationType == "Developer Edition":
			kind = "a Developer Edition"
		}
		if kind == "" {
			add(Check{Name: "production org", Result: CheckPass, Detail: fmt.Sprintf("%s is a production org (%s)", org.Name, org.OrganizationType)})
		} else {
			add(Check{Name: "production org", Result: CheckWarn, Detail: fmt.Sprintf("%s is %s, which expires and takes the license history with it", org.Name, kind),
				Advice: "The operator refuses to write unless spec.allowNonProductionOrg is true; point it at the production LMO"})
		}
	}

	lic, err := c.Describe(ctx, salesforce.LicenseObject)
	if err != nil {
		add(notInstalled("license management app", salesforce.LicenseObject, err, CheckFail,
			"Install the License Management App, or point instanceURL at the org where it is installed (the LMO)"))
		return d
	}
	add(Check{Name: "license management app", Result: CheckPass, Detail: salesforce.LicenseObject + " exists"})
	add(fieldAccess("license fields", lic, salesforce.FieldStatus, salesforce.FieldSeats, salesforce.FieldExpiration))
	add(recordTypes(lic))
	add(licenseTypes(ctx, c, lic))
	add(customerAndOrgState(lic))

	if _, err := c.Describe(ctx, salesforce.FeatureParameterObject); err != nil {
		add(notInstalled("feature management app", salesforce.FeatureParameterObject, err, CheckWarn,
			"Without the Feature Management App, spec.featureParameters cannot be managed; install it in the LMO to use them"))
	} else {
		add(Check{Name: "feature management app", Result: CheckPass, Detail: salesforce.FeatureParameterObject + " exists"})
		for _, obj := range []string{salesforce.FeatureParameterBoolean, salesforce.FeatureParameterInteger, salesforce.FeatureParameterDate} {
			vd, err := c.Describe(ctx, obj)
			if err != nil {
				add(Check{Name: "feature parameter values", Result: CheckFail, Detail: "Describing " + obj + ": " + err.Error(),
					Advice: "Give the integration user Read and Edit on " + obj})
				continue
			}
			add(fieldAccess("feature parameter values", vd, salesforce.FieldFeatureParameterValue))
		}
	}

	if _, err := c.Describe(ctx, salesforce.LicenseHistoryObject); err != nil {
		add(notInstalled("field history", salesforce.LicenseHistoryObject, err, CheckWarn,
			"Turn on field history tracking for the License object (Status, Seats, Expiration) and give the integration user read access to it: without it drift is reported without who made the change"))
	} else {
		add(Check{Name: "field history", Result: CheckPass, Detail: "License field history is readable: drift names who changed a field"})
	}

	add(allocation(ctx, c))
	return d
}

// expectedRecordTypes are the License object's record types as the LMA ships them (metadata names
// sfLma__Active, …): the LMA page's License Status is the record type's name.
var expectedRecordTypes = []string{licstatus.Active, licstatus.Expired, licstatus.Suspended, licstatus.Trial, licstatus.Uninstalled}

// recordTypes checks that the License object has the LMA's record types.
func recordTypes(lic salesforce.SObjectDescribe) Check {
	const name = "record types"
	active := map[string]bool{}
	var others []string
	for _, rt := range lic.RecordTypeInfos {
		if rt.Master {
			continue
		}
		if slices.Contains(expectedRecordTypes, rt.Name) {
			active[rt.Name] = rt.Active
		} else {
			others = append(others, rt.Name)
		}
	}
	if _, ok := lic.Field(salesforce.FieldRecordTypeID); !ok || len(active)+len(others) == 0 {
		return Check{Name: name, Result: CheckWarn, Detail: salesforce.LicenseObject + " has no record types (no " + salesforce.FieldRecordTypeID + ")",
			Advice: "The LMA page's License Status is the record type's name: without record types it shows nothing and the operator cannot tell when it disagrees with the status it writes; ask Salesforce Partner Support about the LMA installation, and give the integration user access to the record types Active, Trial, Suspended, Uninstalled and Expired"}
	}
	var missing, inactive []string
	for _, n := range expectedRecordTypes {
		a, ok := active[n]
		switch {
		case !ok:
			missing = append(missing, n)
		case !a:
			inactive = append(inactive, n)
		}
	}
	if len(missing)+len(inactive) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing or not available to the integration user: "+strings.Join(missing, ", "))
		}
		if len(inactive) > 0 {
			parts = append(parts, "inactive: "+strings.Join(inactive, ", "))
		}
		return Check{Name: name, Result: CheckWarn, Detail: salesforce.LicenseObject + " record types " + strings.Join(parts, "; "),
			Advice: "The LMA moves a license between the record types Active, Trial, Suspended, Uninstalled and Expired (the status its page shows); activate them and make them available to the integration user's profile"}
	}
	detail := salesforce.LicenseObject + " has the record types " + strings.Join(expectedRecordTypes, ", ")
	if len(others) > 0 {
		detail += ", and also " + strings.Join(others, ", ")
	}
	return Check{Name: name, Result: CheckPass, Detail: detail}
}

// customerAndOrgState checks the License fields the operator reads to name customers and to tell a
// deleted subscriber org: each is optional (the operator reads what the describe shows), but without
// them Licenses go unnamed, or a deleted customer's license would still be written.
func customerAndOrgState(lic salesforce.SObjectDescribe) Check {
	const name = "customer and org state"
	fs := salesforce.LicenseFieldSetOf(lic)
	var missing []string
	for _, f := range []struct {
		has  bool
		name string
	}{{fs.Account, salesforce.FieldAccount}, {fs.Lead, salesforce.FieldLead}, {fs.OrgStatus, salesforce.FieldOrgStatus}, {fs.OrgTrialExpiration, salesforce.FieldOrgTrialExpiration}} {
		if !f.has {
			missing = append(missing, f.name)
		}
	}
	if len(missing) == 0 {
		return Check{Name: name, Result: CheckPass, Detail: "The customer lookups and the subscriber org's status and trial expiration are readable"}
	}
	advice := "Give the integration user Read on " + strings.Join(missing, ", ") + ", and on Account and Lead"
	if !fs.OrgStatus {
		advice += "; without " + salesforce.FieldOrgStatus + " the operator cannot tell that a customer's org was deleted, and keeps writing its license"
	}
	return Check{Name: name, Result: CheckWarn, Detail: strings.Join(missing, ", ") + " do not exist (or the integration user cannot read them)", Advice: advice}
}

// licenseTypes checks sfLma__License_Type__c and counts the licenses it marks as not editable, which
// the operator never writes.
func licenseTypes(ctx context.Context, c *salesforce.Client, lic salesforce.SObjectDescribe) Check {
	const name = "license types"
	if _, ok := lic.Field(salesforce.FieldLicenseType); !ok {
		return Check{Name: name, Result: CheckWarn, Detail: salesforce.FieldLicenseType + " does not exist (or the integration user cannot read it)",
			Advice: "The operator treats every license as editable; if you sell through AppExchange Checkout, give the integration user Read on " +
				salesforce.FieldLicenseType + " so that the licenses Checkout manages are never written"}
	}
	type row struct {
		ID          string `json:"Id"`
		LicenseType string `json:"sfLma__License_Type__c"`
	}
	byType := map[string]int{}
	locked := 0
	err := salesforce.Query(ctx, c, "SELECT Id, "+salesforce.FieldLicenseType+" FROM "+salesforce.LicenseObject+" WHERE "+salesforce.FieldLicenseType+" != null",
		func(page []row) error {
			for _, r := range page {
				if (salesforce.License{LicenseType: r.LicenseType}).NotEditable() != "" {
					locked++
					byType[r.LicenseType]++
				}
			}
			return nil
		})
	if err != nil {
		return Check{Name: name, Result: CheckFail, Detail: "Reading " + salesforce.FieldLicenseType + ": " + err.Error(),
			Advice: "Give the integration user Read on " + salesforce.LicenseObject + " and " + salesforce.FieldLicenseType}
	}
	if locked == 0 {
		return Check{Name: name, Result: CheckPass, Detail: "No license has a License Type that marks it as not editable"}
	}
	types := make([]string, 0, len(byType))
	for t, n := range byType {
		types = append(types, fmt.Sprintf("%q ×%d", t, n))
	}
	slices.Sort(types)
	return Check{Name: name, Result: CheckWarn,
		Detail: fmt.Sprintf("%d licenses have a License Type that marks them as not editable (%s)", locked, strings.Join(types, ", ")),
		Advice: "The operator never writes them: licenses provisioned through AppExchange Checkout are managed by Checkout, and changes go through the customer's subscription on AppExchange; Licenses that name them show reason NotEditable, so give them spec.managementPolicy Observe"}
}

// notInstalled is the check of an object that should exist.
func notInstalled(name, object string, err error, result, advice string) Check {
	if salesforce.IsNotFound(err) {
		return Check{Name: name, Result: result, Detail: object + " does not exist in the org (or the integration user cannot see it)", Advice: advice}
	}
	return Check{Name: name, Result: CheckFail, Detail: "Describing " + object + ": " + err.Error(), Advice: advice}
}

// fieldAccess checks that the integration user may edit the fields the operator writes.
func fieldAccess(name string, d salesforce.SObjectDescribe, fields ...string) Check {
	var missing, readOnly []string
	for _, f := range fields {
		fd, ok := d.Field(f)
		switch {
		case !ok:
			missing = append(missing, f)
		case !fd.Updateable:
			readOnly = append(readOnly, f)
		}
	}
	if len(missing)+len(readOnly) == 0 {
		return Check{Name: name, Result: CheckPass, Detail: "The integration user may edit " + d.Name + " " + strings.Join(fields, ", ")}
	}
	var parts []string
	if len(readOnly) > 0 {
		parts = append(parts, "read-only for the integration user: "+strings.Join(readOnly, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "not visible: "+strings.Join(missing, ", "))
	}
	return Check{Name: name, Result: CheckFail, Detail: d.Name + " " + strings.Join(parts, "; "),
		Advice: "Grant Read and Edit on these fields of " + d.Name + " in the integration user's permission set (field-level security)"}
}

// allocation checks the API allocation left: the org's daily requests and, when the org set one, the
// connected app's own allocation, whichever is tighter.
func allocation(ctx context.Context, c *salesforce.Client) Check {
	const name = "api allocation"
	limits, err := c.Limits(ctx)
	if err != nil {
		return Check{Name: name, Result: CheckWarn, Detail: "Reading the org's limits: " + err.Error(),
			Advice: "Give the integration user the View Setup and Configuration permission to read /limits"}
	}
	daily := limits.DailyAPIRequests
	detail := fmt.Sprintf("%d of the org's %d daily API requests remain", daily.Remaining, daily.Max)
	left := 1.0
	if daily.Max > 0 {
		left = float64(daily.Remaining) / float64(daily.Max)
	}
	whose := "the org's daily allocation"
	if u, ok := c.Usage(); ok && u.PerAppMax > 0 {
		detail += fmt.Sprintf("; the connected app %s has %d of its %d left", u.AppName, max(u.PerAppMax-u.PerAppUsed, 0), u.PerAppMax)
		if app := float64(u.PerAppMax-u.PerAppUsed) / float64(u.PerAppMax); app < left {
			left, whose = app, "the connected app's allocation"
		}
	}
	switch {
	case left < failRemaining:
		return Check{Name: name, Result: CheckFail, Detail: detail,
			Advice: fmt.Sprintf("Less than %d%% of %s is left: the operator would hold every write; raise the allocation or wait for usage to fall", int(failRemaining*100), whose)}
	case left < warnRemaining:
		return Check{Name: name, Result: CheckWarn, Detail: detail,
			Advice: fmt.Sprintf("Less than %d%% of %s is left: with the default reserve (spec.apiBudget.reservePercent 20) writes wait; find what else spends it", int(warnRemaining*100), whose)}
	}
	return Check{Name: name, Result: CheckPass, Detail: detail}
}

func authAdvice(err error) string {
	switch salesforce.ClassOf(err) {
	case salesforce.Auth:
		return "Check the connected app (consumer key, certificate, pre-authorized profile or permission set) and the credentials; for the JWT bearer flow the audience is login.salesforce.com, or test.salesforce.com for a sandbox"
	case salesforce.Retryable:
		return "The org did not answer: check instanceURL and loginURL, and the network path (proxy, firewall) to Salesforce"
	}
	return "Check instanceURL, loginURL and the credentials"
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (d *Doctor) count() {
	d.Summary = DoctorSummary{}
	for _, c := range d.Checks {
		switch c.Result {
		case CheckPass:
			d.Summary.Pass++
		case CheckWarn:
			d.Summary.Warn++
		case CheckFail:
			d.Summary.Fail++
		}
	}
}

func writeDoctor(w io.Writer, d *Doctor, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	for _, c := range d.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Result, c.Detail)
		if c.Advice != "" {
			fmt.Fprintf(tw, "\t\t→ %s\n", c.Advice)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d warned, %d failed\n", d.Summary.Pass, d.Summary.Warn, d.Summary.Fail)
	return err
}
