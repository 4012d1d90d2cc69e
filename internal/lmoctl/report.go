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

	"github.com/spf13/pflag"

	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const reportSynopsis = `lmoctl report: the install base by package and status, trials ending within 7 and 30 days,
trials that lapsed in the window without converting, paid licenses up for renewal within the window
(ahead of today), uninstalls in the window (churn), subscriber orgs deleted (churn) and
trial-to-active conversions in the window, each license with its customer (the account, else the
lead's company). Churn and conversions come from the license field history (sfLma__License__History
rows of sfLma__Status__c); an Uninstalled license without such a row counts by its LastModifiedDate.
A deleted org (the LMA's org status DELETED or PENDING_DELETE) has no date in the LMO: every license
whose org is gone now and that is not Uninstalled counts, whatever the window, and no longer counts
among trials ending, lapsed trials or renewals.

Usage: lmoctl report [--window 30d] [--package 033...] [-o table|json] [connection flags]`

const reportExample = `  lmoctl report --lmo acme-lmo --namespace licensing
  lmoctl report --window 90d --package 033000000000001AAA -o json --instance-url https://acme.my.salesforce.com \
    --client-id 3MVG9...   # with LMO_CLIENT_SECRET in the environment`

// Report is `lmoctl report -o json`. The shape is stable: fields are only ever added.
type Report struct {
	// GeneratedAt is the report's clock, RFC 3339 UTC.
	GeneratedAt time.Time `json:"generatedAt"`
	// Today is GeneratedAt's date, YYYY-MM-DD; trials and expiry are counted from it.
	Today string `json:"today"`
	// Window is the --window text; WindowStart is GeneratedAt minus the window.
	Window      string    `json:"window"`
	WindowStart time.Time `json:"windowStart"`
	// InstallBase has one entry per package, by package id.
	InstallBase []PackageInstallBase `json:"installBase"`
	// TrialsEnding7Days and TrialsEnding30Days are Trial licenses whose expiration is today or
	// within 7 (30) days, by expiration. The 30-day list includes the 7-day one.
	TrialsEnding7Days  []LicenseRef `json:"trialsEnding7Days"`
	TrialsEnding30Days []LicenseRef `json:"trialsEnding30Days"`
	// TrialsLapsed are Trial licenses whose expiration passed within the window (before today)
	// and that are still Trial: they lapsed without converting. Oldest first.
	TrialsLapsed []LicenseRef `json:"trialsLapsed"`
	// RenewalsDue are Active licenses that expire between today and the window's length ahead:
	// paid licenses up for renewal. By expiration.
	RenewalsDue []LicenseRef `json:"renewalsDue"`
	// Uninstalls are the licenses uninstalled in the window (churn), by time.
	Uninstalls []StatusChange `json:"uninstalls"`
	// Conversions are the licenses that went from Trial to Active in the window, by time.
	Conversions []StatusChange `json:"conversions"`
	// OrgDeletions are the licenses, not Uninstalled, whose subscriber org the LMA records as deleted
	// or pending deletion (churn the uninstalls miss), by license id. The LMO keeps no date for it.
	OrgDeletions []OrgDeletion `json:"orgDeletions"`
}

// OrgDeletion is a license whose subscriber org is gone.
type OrgDeletion struct {
	LicenseID       string `json:"licenseID"`
	PackageID       string `json:"packageID"`
	SubscriberOrgID string `json:"subscriberOrgID"`
	Customer        string `json:"customer,omitempty"`
	// Status is the license's status (Trial, Active or Suspended).
	Status string `json:"status"`
	// OrgStatus is the org status as the LMA keeps it (DELETED or PENDING_DELETE).
	OrgStatus string `json:"orgStatus"`
}

// PackageInstallBase counts one package's licenses by status. Expired counts licenses that are not
// Uninstalled and whose expiration is before today; Sandbox those in sandbox orgs that are not
// Uninstalled. Total counts every license record, Uninstalled included.
type PackageInstallBase struct {
	PackageID   string `json:"packageID"`
	Name        string `json:"name"`
	Trial       int    `json:"trial"`
	Active      int    `json:"active"`
	Suspended   int    `json:"suspended"`
	Uninstalled int    `json:"uninstalled"`
	Expired     int    `json:"expired"`
	Sandbox     int    `json:"sandbox"`
	// OrgDeleted counts the licenses, not Uninstalled, whose subscriber org is deleted or pending
	// deletion; they count under their status too.
	OrgDeleted int `json:"orgDeleted"`
	Total      int `json:"total"`
}

// LicenseRef is one license in a list of the report.
type LicenseRef struct {
	LicenseID string `json:"licenseID"`
	// Name is the record's name (L-00012).
	Name            string `json:"name"`
	PackageID       string `json:"packageID"`
	SubscriberOrgID string `json:"subscriberOrgID"`
	Customer        string `json:"customer,omitempty"`
	Expiration      string `json:"expiration"`
	DaysLeft        int    `json:"daysLeft"`
}

// StatusChange is one status change of a license in the window.
type StatusChange struct {
	LicenseID       string    `json:"licenseID"`
	PackageID       string    `json:"packageID"`
	SubscriberOrgID string    `json:"subscriberOrgID"`
	Customer        string    `json:"customer,omitempty"`
	At              time.Time `json:"at"`
	// By is the user who made the change, when known.
	By string `json:"by,omitempty"`
	// Source is "history" (a field history row) or "lastModified" (an Uninstalled license whose
	// history has no row for it, counted by LastModifiedDate).
	Source string `json:"source"`
}

// reportOptions are report's flags.
type reportOptions struct {
	conn                      connection
	window, packageID, output string
}

// bindReport registers report's flags.
func bindReport(fs *pflag.FlagSet) func(context.Context, *Env) (int, error) {
	o := &reportOptions{}
	fs.StringVar(&o.window, "window", "30d", "period back for churn, conversions and lapsed trials, and ahead for renewals: Nd (days) or a Go duration such as 720h")
	fs.StringVar(&o.packageID, "package", "", "only this package's 033 id (default: every package)")
	fs.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	o.conn.register(fs)
	return func(ctx context.Context, env *Env) (int, error) { return runReport(ctx, o, env) }
}

func runReport(ctx context.Context, o *reportOptions, env *Env) (int, error) {
	conn, window, packageID, output := o.conn, o.window, o.packageID, o.output
	format, err := outputFormat(output)
	if err != nil {
		return ExitError, err
	}
	span, err := parseWindow(window)
	if err != nil {
		return ExitError, err
	}
	if packageID != "" && !packageIDPattern.MatchString(packageID) {
		return ExitError, fmt.Errorf("--package %q: want a 033 package id of 15 or 18 characters", packageID)
	}
	c, err := conn.connect(ctx, env)
	if err != nil {
		return ExitError, err
	}
	now := env.Now().UTC().Truncate(time.Second)
	read := newProgress(env, "Read", "licenses")
	in, err := fetchForReport(ctx, c, packageID, now.Add(-span), func(n int) { read.update(n, 0) }, salesforce.AllLicenseFields)
	read.done()
	if err != nil {
		return ExitError, err
	}
	if packageID != "" && len(in.packages) == 0 {
		return ExitError, fmt.Errorf("--package %s: the LMO has no such package", packageID)
	}
	r := buildReport(in, now, span, window)
	if format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return ExitOK, enc.Encode(r)
	}
	return ExitOK, writeReportTable(env.Stdout, r)
}

// parseWindow reads "30d" or a Go duration.
func parseWindow(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--window %q: want a positive number of days such as 30d, or a duration such as 720h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--window %q: want a positive number of days such as 30d, or a duration such as 720h", s)
	}
	return d, nil
}

// reportInput is what the report reads from the LMO.
type reportInput struct {
	packages []salesforce.Package
	licenses []salesforce.License
	// history are Status history rows created since the window start.
	history []salesforce.HistoryRow
	// uninstalledEarlier are the ids (15) of licenses whose Uninstalled history row is older than the window.
	uninstalledEarlier map[string]bool
	since              time.Time
}

// fetchForReport reads packages, licenses (with the optional License fields fields) and the
// window's Status history in one Composite call, then, for Uninstalled licenses modified in the
// window with no history row in it, their older Status history (to tell a late edit from an
// uninstall without history). progress, when set, is told the running license count after each
// page. The License describe rides in the first call; when the org has other
// optional fields than fields, the call is made again with the ones it has.
func fetchForReport(ctx context.Context, c *salesforce.Client, packageID string, since time.Time, progress func(int), fields salesforce.LicenseFieldSet) (*reportInput, error) {
	in := &reportInput{since: since, uninstalledEarlier: map[string]bool{}}
	pkgWhere, licWhere := "", ""
	if packageID != "" {
		list := packageIDList([]string{packageID})
		pkgWhere = " WHERE sfLma__Package_ID__c IN " + list
		licWhere = " WHERE sfLma__Package__r.sfLma__Package_ID__c IN " + list
	}
	b := salesforce.NewBatch()
	must(salesforce.AddQuery(b, "SELECT "+salesforce.PackageFields+" FROM "+salesforce.PackageObject+pkgWhere, func(p []salesforce.Package) error {
		for _, pk := range p {
			if packageID == "" || sfid.Same(pk.PackageID, packageID) {
				in.packages = append(in.packages, pk)
			}
		}
		return nil
	}))
	var describe salesforce.SObjectDescribe
	described := false
	must(salesforce.AddDescribe(b, salesforce.LicenseObject, func(d salesforce.SObjectDescribe, err error) {
		describe, described = d, err == nil
	}))
	must(salesforce.AddQuery(b, "SELECT "+salesforce.LicenseFieldsFor(fields)+" FROM "+salesforce.LicenseObject+licWhere+" ORDER BY Id", func(p []salesforce.License) error {
		for _, l := range p {
			if packageID == "" || sfid.Same(l.PackageID(), packageID) {
				in.licenses = append(in.licenses, l)
			}
		}
		if progress != nil {
			progress(len(in.licenses))
		}
		return nil
	}))
	must(salesforce.AddQuery(b, "SELECT "+salesforce.HistoryFields+" FROM "+salesforce.LicenseHistoryObject+
		" WHERE Field = '"+salesforce.FieldStatus+"' AND CreatedDate >= "+salesforce.SOQLDateTime(since)+" ORDER BY CreatedDate", func(p []salesforce.HistoryRow) error {
		in.history = append(in.history, p...)
		return nil
	}))
	err := c.RunBatch(ctx, b)
	if has := salesforce.LicenseFieldSetOf(describe); described && has != fields {
		return fetchForReport(ctx, c, packageID, since, progress, has)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the LMO's licenses and history: %w", err)
	}
	inWindow := map[string]bool{}
	for _, h := range in.history {
		if historyText(h.NewValue) == licstatus.Uninstalled {
			inWindow[sfid.Key15(h.ParentID)] = true
		}
	}
	var candidates []string
	for _, l := range in.licenses {
		if l.Status == licstatus.Uninstalled && !l.LastModifiedDate.Before(since) && !inWindow[sfid.Key15(l.ID)] {
			candidates = append(candidates, l.ID)
		}
	}
	const chunk = 200
	for start := 0; start < len(candidates); start += chunk * salesforce.BatchMaxQueries {
		b := salesforce.NewBatch()
		for i := start; i < len(candidates) && i < start+chunk*salesforce.BatchMaxQueries; i += chunk {
			ids := candidates[i:min(i+chunk, len(candidates))]
			must(salesforce.AddQuery(b, "SELECT "+salesforce.HistoryFields+" FROM "+salesforce.LicenseHistoryObject+
				" WHERE Field = '"+salesforce.FieldStatus+"' AND ParentId IN "+idList(ids), func(p []salesforce.HistoryRow) error {
				for _, h := range p {
					if historyText(h.NewValue) == licstatus.Uninstalled && h.CreatedDate.Before(since) {
						in.uninstalledEarlier[sfid.Key15(h.ParentID)] = true
					}
				}
				return nil
			}))
		}
		if err := c.RunBatch(ctx, b); err != nil {
			return nil, fmt.Errorf("reading the history of uninstalled licenses: %w", err)
		}
	}
	return in, nil
}

// historyText is a history value as text (history values are JSON strings, numbers or null).
func historyText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// buildReport computes the figures; it is a pure function of its input and clock.
func buildReport(in *reportInput, now time.Time, span time.Duration, window string) *Report {
	today := salesforce.DateOf(now)
	r := &Report{GeneratedAt: now, Today: today.String(), Window: window, WindowStart: now.Add(-span),
		InstallBase: []PackageInstallBase{}, TrialsEnding7Days: []LicenseRef{}, TrialsEnding30Days: []LicenseRef{},
		TrialsLapsed: []LicenseRef{}, RenewalsDue: []LicenseRef{},
		Uninstalls: []StatusChange{}, Conversions: []StatusChange{}, OrgDeletions: []OrgDeletion{}}
	// The window in whole days, for the lists counted in days (lapsed trials, renewals).
	windowDays := int(span / (24 * time.Hour))
	base := map[string]*PackageInstallBase{}
	for _, p := range in.packages {
		base[sfid.Key15(p.PackageID)] = &PackageInstallBase{PackageID: p.PackageID, Name: p.Name}
	}
	byID := map[string]salesforce.License{}
	for _, l := range in.licenses {
		byID[sfid.Key15(l.ID)] = l
		pid := sfid.Key15(l.PackageID())
		b := base[pid]
		if b == nil {
			b = &PackageInstallBase{PackageID: l.PackageID()}
			base[pid] = b
		}
		b.Total++
		switch l.Status {
		case licstatus.Trial:
			b.Trial++
		case licstatus.Active:
			b.Active++
		case licstatus.Suspended:
			b.Suspended++
		case licstatus.Uninstalled:
			b.Uninstalled++
			continue
		}
		if l.IsSandbox {
			b.Sandbox++
		}
		if l.SubscriberOrgGone() != "" {
			b.OrgDeleted++
			r.OrgDeletions = append(r.OrgDeletions, OrgDeletion{LicenseID: l.ID, PackageID: l.PackageID(), SubscriberOrgID: l.SubscriberOrgID,
				Customer: l.Customer(), Status: l.Status, OrgStatus: l.OrgStatus})
		}
		if l.NeverExpires() {
			continue
		}
		days := int(l.Expiration.Time().Sub(today.Time()).Hours() / 24)
		if days < 0 {
			b.Expired++
		}
		ref := LicenseRef{LicenseID: l.ID, Name: l.Name, PackageID: l.PackageID(), SubscriberOrgID: l.SubscriberOrgID, Customer: l.Customer(),
			Expiration: l.Expiration.String(), DaysLeft: days}
		if l.SubscriberOrgGone() != "" {
			// Counted among the org deletions; nobody is left to renew or convert.
			continue
		}
		// The operator's expiry notices count days the same way (decide.ExpiryOf).
		switch e := decide.ExpiryOf(l.Status, ref.Expiration, now); {
		case e.Term == decide.ExpiryTrial && e.DaysLeft >= 0 && e.DaysLeft <= 30:
			r.TrialsEnding30Days = append(r.TrialsEnding30Days, ref)
			if e.DaysLeft <= 7 {
				r.TrialsEnding7Days = append(r.TrialsEnding7Days, ref)
			}
		case e.Term == decide.ExpiryTrial && e.DaysLeft < 0 && e.DaysLeft >= -windowDays:
			r.TrialsLapsed = append(r.TrialsLapsed, ref)
		case e.Term == decide.ExpiryPaid && e.DaysLeft >= 0 && e.DaysLeft <= windowDays:
			r.RenewalsDue = append(r.RenewalsDue, ref)
		}
	}
	for _, b := range base {
		r.InstallBase = append(r.InstallBase, *b)
	}
	sort.Slice(r.InstallBase, func(i, j int) bool { return r.InstallBase[i].PackageID < r.InstallBase[j].PackageID })
	for _, list := range [][]LicenseRef{r.TrialsEnding7Days, r.TrialsEnding30Days, r.TrialsLapsed, r.RenewalsDue} {
		sort.Slice(list, func(i, j int) bool {
			if list[i].Expiration != list[j].Expiration {
				return list[i].Expiration < list[j].Expiration
			}
			return list[i].LicenseID < list[j].LicenseID
		})
	}

	// The latest Uninstalled row of each license in the window is its uninstall.
	uninstalled := map[string]StatusChange{}
	converted := map[string]StatusChange{}
	for _, h := range in.history {
		l, ok := byID[sfid.Key15(h.ParentID)]
		if !ok || h.CreatedDate.Before(in.since) {
			continue
		}
		change := StatusChange{LicenseID: l.ID, PackageID: l.PackageID(), SubscriberOrgID: l.SubscriberOrgID, Customer: l.Customer(),
			At: h.CreatedDate.UTC(), By: h.ChangedBy(), Source: "history"}
		switch {
		case historyText(h.NewValue) == licstatus.Uninstalled:
			uninstalled[sfid.Key15(l.ID)] = change
		case historyText(h.OldValue) == licstatus.Trial && historyText(h.NewValue) == licstatus.Active:
			if _, seen := converted[sfid.Key15(l.ID)]; !seen {
				converted[sfid.Key15(l.ID)] = change
			}
		}
	}
	for _, l := range in.licenses {
		key := sfid.Key15(l.ID)
		if l.Status != licstatus.Uninstalled || l.LastModifiedDate.Before(in.since) || in.uninstalledEarlier[key] {
			continue
		}
		if _, ok := uninstalled[key]; !ok {
			by := ""
			if l.LastModifiedBy != nil {
				by = l.LastModifiedBy.Name
			}
			uninstalled[key] = StatusChange{LicenseID: l.ID, PackageID: l.PackageID(), SubscriberOrgID: l.SubscriberOrgID,
				Customer: l.Customer(), At: l.LastModifiedDate.UTC(), By: by, Source: "lastModified"}
		}
	}
	r.Uninstalls = sortedChanges(uninstalled)
	r.Conversions = sortedChanges(converted)
	return r
}

// writeRefs prints a list of licenses as a table, nothing when it is empty.
func writeRefs(tw *tabwriter.Writer, list []LicenseRef) error {
	if len(list) == 0 {
		return nil
	}
	fmt.Fprintln(tw, "LICENSE\tNAME\tCUSTOMER\tSUBSCRIBER\tPACKAGE ID\tEXPIRATION\tDAYS LEFT")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", t.LicenseID, orDash(t.Name), orDash(tableText(t.Customer, 32)), t.SubscriberOrgID, t.PackageID, t.Expiration, t.DaysLeft)
	}
	return tw.Flush()
}

func sortedChanges(m map[string]StatusChange) []StatusChange {
	out := make([]StatusChange, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].LicenseID < out[j].LicenseID
	})
	return out
}

// writeReportTable prints the report's sections.
func writeReportTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "Report of %s; window %s (since %s)\n\n", r.Today, r.Window, r.WindowStart.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTALL BASE\tPACKAGE ID\tTRIAL\tACTIVE\tSUSPENDED\tUNINSTALLED\tEXPIRED\tSANDBOX\tORG DELETED\tTOTAL")
	for _, b := range r.InstallBase {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", orDash(b.Name), b.PackageID, b.Trial, b.Active, b.Suspended, b.Uninstalled, b.Expired, b.Sandbox, b.OrgDeleted, b.Total)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTrials ending within 7 days: %d; within 30 days: %d\n", len(r.TrialsEnding7Days), len(r.TrialsEnding30Days))
	if err := writeRefs(tw, r.TrialsEnding30Days); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTrials that lapsed in the window without converting: %d\n", len(r.TrialsLapsed))
	if err := writeRefs(tw, r.TrialsLapsed); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nPaid licenses up for renewal within %s: %d\n", r.Window, len(r.RenewalsDue))
	if err := writeRefs(tw, r.RenewalsDue); err != nil {
		return err
	}
	for _, sec := range []struct {
		title string
		list  []StatusChange
	}{{"Uninstalls in the window (churn)", r.Uninstalls}, {"Trial to Active conversions in the window", r.Conversions}} {
		fmt.Fprintf(w, "\n%s: %d\n", sec.title, len(sec.list))
		if len(sec.list) == 0 {
			continue
		}
		fmt.Fprintln(tw, "LICENSE\tCUSTOMER\tSUBSCRIBER\tPACKAGE ID\tAT\tBY\tSOURCE")
		for _, c := range sec.list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.LicenseID, orDash(tableText(c.Customer, 32)), c.SubscriberOrgID, c.PackageID, c.At.Format(time.RFC3339), orDash(c.By), c.Source)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nSubscriber orgs deleted (churn; the LMO keeps no date): %d\n", len(r.OrgDeletions))
	if len(r.OrgDeletions) > 0 {
		fmt.Fprintln(tw, "LICENSE\tCUSTOMER\tSUBSCRIBER\tPACKAGE ID\tSTATUS\tORG STATUS")
		for _, d := range r.OrgDeletions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.LicenseID, orDash(tableText(d.Customer, 32)), d.SubscriberOrgID, d.PackageID, d.Status, tableText(d.OrgStatus, 20))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
