package lmoctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/pflag"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const planSynopsis = `lmoctl plan: show what applying the Licenses in DIR would change in the LMO, field by field
(old → new), with access reductions and impossible transitions flagged, subscribers that have not
installed listed as AwaitingInstall, and Observe Licenses shown as "observe only (no write)". It reads
every License and ManagedPackage in DIR (.yaml, .yml, .json, multi-document files allowed, recursively)
and makes two read calls to the LMO whatever the number of Licenses. It never writes.

-o markdown writes a pull-request comment (docs/ci has GitHub Actions and GitLab CI jobs that post it).

Exit status: 0 nothing would change, 2 something would change or cannot be applied, 1 error.

Usage: lmoctl plan -f DIR [-o table|json|markdown] [connection flags]`

const planExample = `  lmoctl plan -f gitops/acme-projects --lmo acme-lmo --namespace licensing
  lmoctl plan -f gitops/acme-projects -o json --instance-url https://acme.my.salesforce.com \
    --client-id 3MVG9... --username ci@acme.example --key-file ci.key
  lmoctl plan -f gitops/acme-projects -o markdown > plan.md`

// Plan actions: what applying a License would do. They are the actions of the operator's own
// decision procedure (internal/decide), so the plan says what the operator does.
const (
	// ActionUnchanged: the record matches every managed field.
	ActionUnchanged = decide.ActionUnchanged
	// ActionUpdate: the operator would write the changes.
	ActionUpdate = decide.ActionUpdate
	// ActionHeld: the change cuts access now and is held until the allow-access-reduction annotation.
	ActionHeld = decide.ActionHeld
	// ActionImpossible: the LMO never makes the change (Active to Trial, a trial over 90 days, an
	// Uninstalled record).
	ActionImpossible = decide.ActionImpossible
	// ActionAwaitingInstall: the subscriber has not installed; the terms apply when it does.
	ActionAwaitingInstall = decide.ActionAwaitingInstall
	// ActionObserve: managementPolicy Observe; the record differs but nothing is written.
	ActionObserve = decide.ActionObserve
	// ActionPaused: the paused annotation stops the write.
	ActionPaused = decide.ActionPaused
	// ActionBlocked: the License cannot be applied as written (ambiguous subscriber, record or
	// package not found, a parameter the package lacks or cannot write, a record another License in
	// DIR owns, a record the operator cannot read).
	ActionBlocked = decide.ActionBlocked
)

// Plan flags, in the order the table shows them.
const (
	FlagAccessReduction = "accessReduction"
	FlagImpossible      = "impossible"
	FlagAwaitingInstall = "awaitingInstall"
	FlagObserveOnly     = "observeOnly"
	// FlagDuplicate: another License in DIR names the same record and owns it.
	FlagDuplicate = "duplicate"
)

// Plan is `lmoctl plan -o json`: one entry per License in DIR, sorted by namespace and name. The
// shape is stable: fields are only ever added.
type Plan struct {
	// Today is the date the plan was computed for (UTC), YYYY-MM-DD.
	Today string `json:"today"`
	// Summary counts the Licenses by action.
	Summary PlanSummary `json:"summary"`
	// Licenses are the planned Licenses.
	Licenses []PlannedLicense `json:"licenses"`
}

// PlanSummary counts Licenses by action; Changed is every License whose action is not unchanged.
type PlanSummary struct {
	Licenses        int `json:"licenses"`
	Changed         int `json:"changed"`
	Unchanged       int `json:"unchanged"`
	Update          int `json:"update"`
	Held            int `json:"held"`
	Impossible      int `json:"impossible"`
	AwaitingInstall int `json:"awaitingInstall"`
	Observe         int `json:"observe"`
	Paused          int `json:"paused"`
	Blocked         int `json:"blocked"`
	// AccessReductions counts Licenses whose change cuts access now (held or approved).
	AccessReductions int `json:"accessReductions"`
}

// PlannedLicense is what applying one License would do.
type PlannedLicense struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// File is the file the License came from.
	File string `json:"file"`
	// PackageID is the 033 id of its ManagedPackage.
	PackageID       string `json:"packageID"`
	SubscriberOrgID string `json:"subscriberOrgID,omitempty"`
	// Customer is the account (else the lead's company) behind the record, when the LMO names one.
	Customer string `json:"customer,omitempty"`
	// LicenseID is the record the License resolves to ("" when there is none).
	LicenseID string `json:"licenseID,omitempty"`
	// Policy is Enforce or Observe.
	Policy string `json:"policy"`
	// Action is one of unchanged, update, held, impossible, awaitingInstall, observe, paused, blocked.
	Action string `json:"action"`
	// Reason is the License condition reason the operator would show when it is not Ready
	// (AwaitingInstall, AccessReductionHeld, ImpossibleTransition, Uninstalled, AmbiguousLicense,
	// DuplicateLicense, UnreadableRecord, Drifted under Observe, Paused, …).
	Reason string `json:"reason,omitempty"`
	// Message explains Reason in a sentence.
	Message string `json:"message,omitempty"`
	// Flags are accessReduction, impossible, awaitingInstall, observeOnly and duplicate.
	Flags []string `json:"flags,omitempty"`
	// AccessReductions say how the change cuts access now.
	AccessReductions []string `json:"accessReductions,omitempty"`
	// Approval, with AccessReductions, is the value of the allow-access-reduction annotation that
	// approves this change and no other.
	Approval string `json:"approval,omitempty"`
	// Changes are the managed fields whose record value differs, in drift order.
	Changes []FieldChange `json:"changes,omitempty"`
	// Owner is, when another License in DIR owns the record this one names, that License's name.
	Owner string `json:"owner,omitempty"`
}

// FieldChange is one field the License manages whose LMO value differs: old is the record's value
// ("" when there is no record), new the spec's.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// planOptions are plan's flags.
type planOptions struct {
	conn        connection
	dir, output string
}

// bindPlan registers plan's flags.
func bindPlan(fs *pflag.FlagSet) func(context.Context, *Env) (int, error) {
	o := &planOptions{}
	fs.StringVarP(&o.dir, "filename", "f", "", "directory (or file) of License and ManagedPackage YAML (required)")
	fs.StringVarP(&o.output, "output", "o", "table", "output format: table, json, or markdown (a pull-request comment)")
	o.conn.register(fs)
	return func(ctx context.Context, env *Env) (int, error) { return runPlan(ctx, o, env) }
}

func runPlan(ctx context.Context, o *planOptions, env *Env) (int, error) {
	conn, dir, output := o.conn, o.dir, o.output
	format := strings.ToLower(output)
	if format != "markdown" && format != "md" {
		var err error
		if format, err = outputFormat(output); err != nil {
			return ExitError, fmt.Errorf("%w, or markdown", err)
		}
	}
	if dir == "" {
		return ExitError, fmt.Errorf("-f is required: the directory of License YAML to plan")
	}
	m, err := readManifests(dir)
	if err != nil {
		return ExitError, err
	}
	pkgOf, err := m.packageIDs()
	if err != nil {
		return ExitError, err
	}
	var plan *Plan
	today := env.Now().UTC()
	if len(m.licenses) == 0 {
		fmt.Fprintf(env.Stderr, "No License in %s\n", dir)
		plan = &Plan{Today: today.Format(time.DateOnly), Licenses: []PlannedLicense{}}
	} else {
		c, err := conn.connect(ctx, env)
		if err != nil {
			return ExitError, err
		}
		recs, err := fetchForPlan(ctx, c, m, pkgOf)
		if err != nil {
			return ExitError, err
		}
		plan = buildPlan(m.licenses, pkgOf, recs.view(), today)
	}
	switch format {
	case "json":
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			return ExitError, err
		}
	case "markdown", "md":
		if err := writePlanMarkdown(env.Stdout, plan); err != nil {
			return ExitError, err
		}
	default:
		if err := writePlanTable(env.Stdout, plan); err != nil {
			return ExitError, err
		}
	}
	if plan.Summary.Changed > 0 {
		return ExitChanges, nil
	}
	return ExitOK, nil
}

// packageIDs resolves each License's packageRef to a 033 id through the ManagedPackages in DIR.
func (m *manifests) packageIDs() (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, l := range m.licenses {
		p, ok := m.packages[l.Namespace+"/"+l.Spec.PackageRef.Name]
		if !ok {
			missing = append(missing, fmt.Sprintf("%s: License %s: spec.packageRef.name: ManagedPackage %q is not in the directory (plan needs it for the package id)",
				l.where(), l.Name, l.Spec.PackageRef.Name))
			continue
		}
		out[l.Namespace+"/"+l.Name] = p.Spec.PackageID
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(missing, "\n"))
	}
	return out, nil
}

// fetchForPlan reads the packages, parameters and licenses (one Composite call) and the values of
// the parameters the Licenses name (one more, when any).
func fetchForPlan(ctx context.Context, c *salesforce.Client, m *manifests, pkgOf map[string]string) (*lmoRecords, error) {
	var ids []string
	seen := map[string]bool{}
	for _, id := range pkgOf {
		if !seen[sfid.Key15(id)] {
			seen[sfid.Key15(id)] = true
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	recs, err := loadPackages(ctx, c, ids, "", nil)
	if err != nil {
		return nil, err
	}
	named := map[string]salesforce.FeatureParameter{}
	for _, l := range m.licenses {
		pid := sfid.Key15(pkgOf[l.Namespace+"/"+l.Name])
		for _, p := range l.Spec.FeatureParameters {
			if fp, ok := recs.params[pid][p.Name]; ok && fp.DataFlowDirection == salesforce.DirectionToSubscriber {
				named[fp.ID] = fp
			}
		}
	}
	if len(named) > 0 {
		params := make([]salesforce.FeatureParameter, 0, len(named))
		for _, fp := range named {
			params = append(params, fp)
		}
		if err := recs.loadValues(ctx, c, params, ""); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// PlanRecords is what plan reads of an LMO: its records and each package's feature parameters, in
// the shapes the operator's mirror holds them. engine.LMO is one.
type PlanRecords interface {
	decide.Records
	// FeatureParameters returns the feature parameters of a package, by full name.
	FeatureParameters(packageID string) map[string]engine.FeatureParameter
}

// PlanLicenses is what applying the Licenses would do to the records, decided by the operator's own
// procedure. packageIDs maps "namespace/name" of each License to the 033 id of its ManagedPackage.
func PlanLicenses(licenses []licensingv1alpha1.License, packageIDs map[string]string, recs PlanRecords, today time.Time) *Plan {
	fls := make([]fileLicense, len(licenses))
	for i, l := range licenses {
		fls[i] = fileLicense{License: l}
	}
	return buildPlan(fls, packageIDs, recs, today)
}

// buildPlan evaluates every License against the records, the way the License controller does:
// first which License owns each record, then each License's verdict.
func buildPlan(licenses []fileLicense, pkgOf map[string]string, recs PlanRecords, today time.Time) *Plan {
	owners := recordOwners(licenses, pkgOf, recs)
	plan := &Plan{Today: today.Format(time.DateOnly), Licenses: []PlannedLicense{}}
	for _, fl := range licenses {
		key := fl.Namespace + "/" + fl.Name
		p := planLicense(fl, pkgOf[key], recs, owners[key], today)
		plan.Licenses = append(plan.Licenses, p)
		s := &plan.Summary
		s.Licenses++
		switch p.Action {
		case ActionUnchanged:
			s.Unchanged++
		case ActionUpdate:
			s.Update++
		case ActionHeld:
			s.Held++
		case ActionImpossible:
			s.Impossible++
		case ActionAwaitingInstall:
			s.AwaitingInstall++
		case ActionObserve:
			s.Observe++
		case ActionPaused:
			s.Paused++
		case ActionBlocked:
			s.Blocked++
		}
		if p.Action != ActionUnchanged {
			s.Changed++
		}
		if len(p.AccessReductions) > 0 {
			s.AccessReductions++
		}
	}
	return plan
}

// recordOwners maps "namespace/name" of each License that names a record another License of its
// namespace owns to the owner's name, as the operator decides it (decide.Owner).
func recordOwners(licenses []fileLicense, pkgOf map[string]string, recs PlanRecords) map[string]string {
	claims := map[[2]string][]decide.Claim{}
	claimed := map[string][2]string{}
	for _, fl := range licenses {
		key := fl.Namespace + "/" + fl.Name
		res := decide.Resolve(fl.Spec, pkgOf[key], recs)
		if res.Record == nil {
			continue
		}
		rk := [2]string{fl.Namespace, sfid.Key15(res.Record.ID)}
		claims[rk] = append(claims[rk], decide.Claim{Name: fl.Name, Created: fl.CreationTimestamp.Time})
		claimed[key] = rk
	}
	owners := map[string]string{}
	for key, rk := range claimed {
		if owner := decide.Owner(claims[rk]); rk[0]+"/"+owner != key {
			owners[key] = owner
		}
	}
	return owners
}

// planLicense is what applying one License would do: owner, when set, is the License of DIR that
// owns its record.
func planLicense(fl fileLicense, packageID string, recs PlanRecords, owner string, today time.Time) PlannedLicense {
	spec := fl.Spec
	p := PlannedLicense{Name: fl.Name, Namespace: fl.Namespace, File: fl.file, PackageID: packageID,
		SubscriberOrgID: spec.SubscriberOrgID, LicenseID: spec.LicenseID, Policy: string(spec.ManagementPolicy),
		Customer: strings.TrimSpace(fl.Annotations[licensingv1alpha1.AnnotationCustomer])}
	if p.Policy == "" {
		p.Policy = string(licensingv1alpha1.PolicyEnforce)
	}
	res := decide.Resolve(spec, packageID, recs)
	if res.Record == nil {
		v := res.Verdict
		p.Action, p.Reason, p.Message = v.Action, v.Reason, v.Message
		if v.Action == ActionAwaitingInstall {
			p.Flags = []string{FlagAwaitingInstall}
			p.Changes = changesOf(v.Drift, true)
		}
		return p
	}
	lic := fl.License
	v := decide.License(decide.Input{License: &lic, Record: *res.Record, Params: decide.ParamDefs(recs.FeatureParameters(packageID)),
		Owner: owner, Today: today})
	p.LicenseID = res.Record.ID
	if res.Record.Customer != "" {
		p.Customer = res.Record.Customer // the LMO's current name wins over the one import recorded
	}
	p.Action = v.Action
	p.Changes = changesOf(v.Drift, false)
	p.AccessReductions, p.Approval = v.Reductions, v.Approval
	// A record type that disagrees with a matching status changes nothing, but a reviewer should
	// see what the operator will report on the License.
	if (v.Action != ActionUnchanged && v.Action != ActionUpdate) || v.Reason == licensingv1alpha1.ReasonRecordTypeMismatch {
		p.Reason, p.Message = v.Reason, v.Message
	}
	switch v.Action {
	case ActionImpossible:
		p.Flags = append(p.Flags, FlagImpossible)
	case ActionObserve:
		p.Flags = append(p.Flags, FlagObserveOnly)
	}
	if len(v.Reductions) > 0 {
		p.Flags = append(p.Flags, FlagAccessReduction)
	}
	if v.Action == ActionUpdate && len(v.Reductions) > 0 {
		p.Message = "The access reduction is approved by annotation " + licensingv1alpha1.AnnotationAllowAccessReduction + ": " + strconv.Quote(v.Approval)
	}
	if owner != "" {
		p.Owner = owner
		p.Flags = append(p.Flags, FlagDuplicate)
	}
	return p
}

func changesOf(diffs []drift.FieldDrift, noRecord bool) []FieldChange {
	out := make([]FieldChange, 0, len(diffs))
	for _, d := range diffs {
		old := d.Observed
		if noRecord {
			old = ""
		}
		out = append(out, FieldChange{Field: d.Field.String(), Old: old, New: d.Desired})
	}
	return out
}

// flagText is how the table shows a License's flags.
func flagText(p PlannedLicense) string {
	var parts []string
	for _, f := range p.Flags {
		switch f {
		case FlagAccessReduction:
			s := "ACCESS REDUCTION"
			if p.Action == ActionHeld {
				s += " (held)"
			} else {
				s += " (approved)"
			}
			parts = append(parts, s)
		case FlagImpossible:
			parts = append(parts, "IMPOSSIBLE ("+p.Reason+")")
		case FlagAwaitingInstall:
			parts = append(parts, "AwaitingInstall")
		case FlagObserveOnly:
			parts = append(parts, "observe only (no write)")
		case FlagDuplicate:
			parts = append(parts, "DUPLICATE (owned by "+p.Owner+")")
		}
	}
	switch p.Action {
	case ActionPaused:
		parts = append(parts, "paused (no write)")
	case ActionBlocked:
		parts = append(parts, "BLOCKED ("+p.Reason+")")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tableText makes a value safe for one table cell: control characters and tabs become spaces (a
// customer name comes from the LMO) and it is cut to n runes.
func tableText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// writePlanTable prints one row per changed field of every License that is not unchanged, the
// messages of the Licenses that cannot be applied as they are, and a summary line.
func writePlanTable(w io.Writer, plan *Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := 0
	for _, p := range plan.Licenses {
		if p.Action == ActionUnchanged {
			continue
		}
		if rows == 0 {
			fmt.Fprintln(tw, "LICENSE\tCUSTOMER\tRECORD\tFIELD\tOLD\tNEW\tFLAGS")
		}
		name := p.Name
		if p.Namespace != "" {
			name = p.Namespace + "/" + p.Name
		}
		changes := p.Changes
		if len(changes) == 0 {
			changes = []FieldChange{{Field: "-", Old: "-", New: "-"}}
		}
		for _, c := range changes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, orDash(tableText(p.Customer, 32)), orDash(p.LicenseID), c.Field, orDash(c.Old), orDash(c.New), flagText(p))
			rows++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, p := range plan.Licenses {
		switch p.Action {
		case ActionHeld, ActionImpossible, ActionBlocked, ActionAwaitingInstall:
			notes = append(notes, fmt.Sprintf("  %s: %s: %s", p.Name, p.Reason, p.Message))
		case ActionUpdate:
			if p.Message != "" {
				notes = append(notes, fmt.Sprintf("  %s: %s (%s)", p.Name, p.Message, strings.Join(p.AccessReductions, "; ")))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nNotes:\n%s\n", strings.Join(notes, "\n"))
	}
	if rows > 0 {
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w, planSummaryLine(plan.Summary))
	return err
}

func planSummaryLine(s PlanSummary) string {
	if s.Changed == 0 {
		return fmt.Sprintf("No changes: %d Licenses match the LMO.", s.Licenses)
	}
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(s.Update, "to update")
	add(s.Held, "held (access reduction)")
	add(s.Impossible, "impossible")
	add(s.AwaitingInstall, "awaiting install")
	add(s.Observe, "observe only")
	add(s.Paused, "paused")
	add(s.Blocked, "blocked")
	add(s.Unchanged, "unchanged")
	return fmt.Sprintf("Plan: %d of %d Licenses differ from the LMO: %s.", s.Changed, s.Licenses, strings.Join(parts, ", "))
}
