package lmoctl

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
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

const auditSynopsis = `lmoctl audit: every change to a managed field of a license in the window, from the LMO's field
history (sfLma__License__History: Status, Seats, Expiration, plus the install and upgrade rows),
each classified by who made it:

  operator    the operator's integration user; with -f DIR, the License in DIR that owns the record
  person      anyone else in the LMO: drift, named by name and username, with when
  salesforce  the LMA's own automated user (installs, upgrades, uninstalls)

The operator's user is, by default, the user lmoctl itself authenticates as (run it with the
operator's connection, e.g. --lmo NAME); --operator-user names it instead. Salesforce's changes are
those made by the user named "License Manager", the LMA's built-in user that creates and updates
license records on installs, upgrades and uninstalls; --system-user names more.

Feature parameter values have no field history in the LMO: for them the audit lists only each value
record's latest change in the window (from LastModifiedBy and LastModifiedDate, without the old
value), and the output says so. Subscriber-to-LMO parameters are not managed and not listed.

It reads the LMO in three Composite calls whatever the fleet size (plus one per further page of a
long result), and never writes.

Usage: lmoctl audit [--since 30d] [-f DIR] [--package 033...] [--operator-user USERNAME]...
       [--system-user NAME]... [-o table|json|csv] [connection flags]`

const auditExample = `  lmoctl audit --since 30d --lmo acme-lmo --namespace licensing -f gitops/acme-projects
  lmoctl audit --since 90d -o csv --operator-user integration@acme.example > audit.csv`

// Classes of an audited change: who made it.
const (
	// ClassOperator is a change by the operator's integration user.
	ClassOperator = "operator"
	// ClassPerson is a change by anyone else in the LMO: drift.
	ClassPerson = "person"
	// ClassSalesforce is a change by the LMA's own automated user.
	ClassSalesforce = "salesforce"
)

// Events of an audited change: what the history row records.
const (
	// EventInstall is the row the LMA writes when it creates a license on an install.
	EventInstall = "install"
	// EventUpgrade is a change of the installed version.
	EventUpgrade = "upgrade"
	// EventUninstall is the status becoming Uninstalled.
	EventUninstall = "uninstall"
	// EventUpdate is any other change of a managed field.
	EventUpdate = "update"
)

// Sources of an audited change.
const (
	// SourceHistory is a field history row: every change, with the old and the new value.
	SourceHistory = "history"
	// SourceLastModified is a feature parameter value record's latest change only, without the old
	// value (the LMO keeps no history of values).
	SourceLastModified = "lastModified"
)

// defaultSystemUser is the name of the LMA's built-in user: Salesforce documents that the LMA's
// package records are created by "the License Manager user", and it owns the records the LMA
// creates on installs.
const defaultSystemUser = "License Manager"

// fieldCreated is the history row's Field on a record's creation (an install).
const fieldCreated = "created"

// fieldVersionNumber is the installed version, which the LMA changes on an upgrade.
const fieldVersionNumber = "sfLma__Version_Number__c"

// noValueHistoryNote is the note the audit carries about feature parameter values.
const noValueHistoryNote = "Feature parameter values have no field history in the LMO: only each value record's latest change in the window is listed, without its old value; earlier changes to the same value in the window cannot be seen"

// Audit is `lmoctl audit -o json`. The shape is stable: fields are only ever added.
type Audit struct {
	// GeneratedAt is the audit's clock, RFC 3339 UTC.
	GeneratedAt time.Time `json:"generatedAt"`
	// Since is the --since text; WindowStart is GeneratedAt minus it.
	Since       string    `json:"since"`
	WindowStart time.Time `json:"windowStart"`
	// OperatorUsers are the usernames counted as the operator's.
	OperatorUsers []string `json:"operatorUsers"`
	// SystemUsers are the names or usernames counted as Salesforce's own.
	SystemUsers []string `json:"systemUsers"`
	// Summary counts the changes by class.
	Summary AuditSummary `json:"summary"`
	// Changes are the changes in the window, oldest first.
	Changes []AuditChange `json:"changes"`
	// Notes say what the audit cannot see.
	Notes []string `json:"notes"`
}

// AuditSummary counts audited changes by class.
type AuditSummary struct {
	Changes    int `json:"changes"`
	Operator   int `json:"operator"`
	Person     int `json:"person"`
	Salesforce int `json:"salesforce"`
}

// AuditChange is one change to a managed field of a license.
type AuditChange struct {
	// At is when the change was made.
	At time.Time `json:"at"`
	// Class is operator, person or salesforce.
	Class string `json:"class"`
	// Event is install, upgrade, uninstall or update.
	Event string `json:"event"`
	// By and ByUsername name the LMO user who made the change.
	By         string `json:"by"`
	ByUsername string `json:"byUsername"`
	// LicenseID and Record (L-00012) identify the license record.
	LicenseID       string `json:"licenseID"`
	Record          string `json:"record,omitempty"`
	PackageID       string `json:"packageID,omitempty"`
	SubscriberOrgID string `json:"subscriberOrgID,omitempty"`
	Customer        string `json:"customer,omitempty"`
	// Field is the changed field's API name, "created" for an install, or a feature parameter's
	// full name.
	Field string `json:"field"`
	// Old and New are the values before and after ("" when empty or, for a feature parameter value,
	// Old when unknown).
	Old string `json:"old"`
	New string `json:"new"`
	// Source is history or lastModified.
	Source string `json:"source"`
	// License is, with -f, the License in DIR ("namespace/name", or the name without a namespace)
	// that owns the record: for an operator change, the License the write served.
	License string `json:"license,omitempty"`
}

// userList is a flag that may be repeated and holds comma-separated values.
type userList []string

func (u *userList) String() string { return strings.Join(*u, ",") }

// Type names the flag's value in help.
func (u *userList) Type() string { return "users" }

func (u *userList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*u = append(*u, s)
		}
	}
	return nil
}

// auditOptions are audit's flags.
type auditOptions struct {
	conn                          connection
	since, dir, packageID, output string
	operators, systems            userList
}

// bindAudit registers audit's flags.
func bindAudit(fs *pflag.FlagSet) func(context.Context, *Env) (int, error) {
	o := &auditOptions{}
	fs.StringVar(&o.since, "since", "30d", "the window back from now: Nd (days) or a Go duration such as 720h")
	fs.StringVarP(&o.dir, "filename", "f", "", "directory (or file) of License and ManagedPackage YAML: names the License that owns each record")
	fs.StringVar(&o.packageID, "package", "", "only this package's 033 id (default: every package)")
	fs.Var(&o.operators, "operator-user", "username of the operator's integration user (repeatable or comma-separated; default: the user lmoctl authenticates as)")
	fs.Var(&o.systems, "system-user", "name or username of another user whose changes are Salesforce's own (repeatable or comma-separated; \""+defaultSystemUser+"\" always is)")
	fs.StringVarP(&o.output, "output", "o", "table", "output format: table, json or csv")
	o.conn.register(fs)
	return func(ctx context.Context, env *Env) (int, error) { return runAudit(ctx, o, env) }
}

func runAudit(ctx context.Context, o *auditOptions, env *Env) (int, error) {
	conn, since, dir, packageID, output := o.conn, o.since, o.dir, o.packageID, o.output
	operators, systems := o.operators, o.systems
	format := strings.ToLower(output)
	if format != "csv" {
		var err error
		if format, err = outputFormat(output); err != nil {
			return ExitError, fmt.Errorf("%w, or csv", err)
		}
	}
	span, err := parseWindow(since)
	if err != nil {
		return ExitError, fmt.Errorf("--since %q: want a positive number of days such as 30d, or a duration such as 720h", since)
	}
	if packageID != "" && !packageIDPattern.MatchString(packageID) {
		return ExitError, fmt.Errorf("--package %q: want a 033 package id of 15 or 18 characters", packageID)
	}
	var files []fileLicense
	var pkgOf map[string]string
	if dir != "" {
		m, err := readManifests(dir)
		if err != nil {
			return ExitError, err
		}
		if pkgOf, err = m.packageIDs(); err != nil {
			return ExitError, err
		}
		files = m.licenses
	}
	c, err := conn.connect(ctx, env)
	if err != nil {
		return ExitError, err
	}
	now := env.Now().UTC().Truncate(time.Second)
	in, err := fetchForAudit(ctx, c, packageID, now.Add(-span), len(operators) == 0, pkgOf)
	if err != nil {
		return ExitError, err
	}
	if packageID != "" && len(in.recs.packages) == 0 {
		return ExitError, fmt.Errorf("--package %s: the LMO has no such package", packageID)
	}
	if len(operators) == 0 {
		if in.self == nil {
			return ExitError, errors.New("cannot tell which user lmoctl authenticated as (the token endpoint named none): name the operator's user with --operator-user USERNAME")
		}
		operators = userList{in.self.Username}
	}
	a := buildAudit(in, files, pkgOf, auditUsers{operators: operators, systems: append(userList{defaultSystemUser}, systems...)}, now, since)
	switch format {
	case "json":
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return ExitOK, enc.Encode(a)
	case "csv":
		return ExitOK, writeAuditCSV(env.Stdout, a)
	}
	return ExitOK, writeAuditTable(env.Stdout, a)
}

// auditUser is the User record lmoctl authenticated as.
type auditUser struct {
	ID       string `json:"Id"`
	Name     string `json:"Name"`
	Username string `json:"Username"`
}

// auditInput is what the audit reads from the LMO.
type auditInput struct {
	// self is the user lmoctl authenticated as, when asked for and known.
	self *auditUser
	// recs are the packages, their feature parameters and licenses (loadPackages).
	recs *lmoRecords
	// history are the window's rows of the audited fields, by CreatedDate and Id.
	history []salesforce.HistoryRow
	// values are the LMO-to-Subscriber value records changed in the window, with their data type.
	values []auditValue
	since  time.Time
}

// valueRecord is a feature parameter value record with its creation time.
type valueRecord struct {
	salesforce.FeatureParameterValue
	CreatedDate salesforce.DateTime `json:"CreatedDate"`
}

// auditValue is a changed value record and its parameter's data type.
type auditValue struct {
	dataType string
	salesforce.FeatureParameterValue
}

// auditedFields are the history fields the audit lists: the managed fields, and the install and
// upgrade rows the LMA writes.
var auditedFields = []string{fieldCreated, salesforce.FieldStatus, salesforce.FieldSeats, salesforce.FieldExpiration, fieldVersionNumber}

// fetchForAudit reads, in a first Composite call, the user lmoctl acts as (when wantSelf), the
// packages and the window's history rows; then the packages' parameters and licenses the way plan
// reads them (loadPackages); then the LMO-to-Subscriber value records changed in the window.
// pkgOf, from -f, adds the packages its Licenses name.
func fetchForAudit(ctx context.Context, c *salesforce.Client, packageID string, since time.Time, wantSelf bool, pkgOf map[string]string) (*auditInput, error) {
	in := &auditInput{since: since}
	b := salesforce.NewBatch()
	if uid := c.UserID(); wantSelf && uid != "" {
		must(salesforce.AddQuery(b, "SELECT Id, Name, Username FROM User WHERE Id = "+salesforce.QuoteString(uid), func(p []auditUser) error {
			if len(p) > 0 {
				in.self = &p[0]
			}
			return nil
		}))
	}
	pkgWhere := ""
	if packageID != "" {
		pkgWhere = " WHERE sfLma__Package_ID__c IN " + packageIDList([]string{packageID})
	}
	var ids []string
	seen := map[string]bool{}
	addID := func(id string) {
		if !seen[sfid.Key15(id)] {
			seen[sfid.Key15(id)] = true
			ids = append(ids, id)
		}
	}
	must(salesforce.AddQuery(b, "SELECT "+salesforce.PackageFields+" FROM "+salesforce.PackageObject+pkgWhere, func(p []salesforce.Package) error {
		for _, pk := range p {
			if packageID == "" || sfid.Same(pk.PackageID, packageID) {
				addID(pk.PackageID)
			}
		}
		return nil
	}))
	fields := make([]string, len(auditedFields))
	for i, f := range auditedFields {
		fields[i] = salesforce.QuoteString(f)
	}
	must(salesforce.AddQuery(b, "SELECT "+salesforce.HistoryFields+" FROM "+salesforce.LicenseHistoryObject+
		" WHERE Field IN ("+strings.Join(fields, ", ")+") AND CreatedDate >= "+salesforce.SOQLDateTime(since)+" ORDER BY CreatedDate, Id", func(p []salesforce.HistoryRow) error {
		in.history = append(in.history, p...)
		return nil
	}))
	if err := c.RunBatch(ctx, b); err != nil {
		return nil, fmt.Errorf("reading the LMO's packages and license history: %w", err)
	}
	if packageID == "" {
		for _, id := range pkgOf {
			addID(id)
		}
	}
	sort.Strings(ids)
	in.recs = &lmoRecords{packages: map[string]salesforce.Package{}, params: map[string]map[string]salesforce.FeatureParameter{},
		values: map[string]map[string]string{}}
	if len(ids) == 0 {
		return in, nil
	}
	recs, err := loadPackages(ctx, c, ids, "", nil)
	if err != nil {
		return nil, err
	}
	in.recs = recs
	byType := map[string][]string{}
	for _, params := range recs.params {
		for _, fp := range params {
			if fp.DataFlowDirection == salesforce.DirectionToSubscriber {
				byType[fp.DataType] = append(byType[fp.DataType], fp.ID)
			}
		}
	}
	vb := salesforce.NewBatch()
	for _, dt := range []string{salesforce.DataTypeBoolean, salesforce.DataTypeInteger, salesforce.DataTypeDate} {
		if len(byType[dt]) == 0 {
			continue
		}
		sort.Strings(byType[dt])
		dt := dt
		must(salesforce.AddQuery(vb, "SELECT "+salesforce.FeatureParameterValueFields+", CreatedDate FROM "+salesforce.ValueObjectFor(dt)+
			" WHERE sfFma__FeatureParameter__c IN "+idList(byType[dt])+" AND LastModifiedDate >= "+salesforce.SOQLDateTime(since), func(p []valueRecord) error {
			for _, v := range p {
				// A value untouched since the install made it is the install's, which its
				// history row already lists.
				if !v.LastModifiedDate.Time.Equal(v.CreatedDate.Time) {
					in.values = append(in.values, auditValue{dt, v.FeatureParameterValue})
				}
			}
			return nil
		}))
	}
	if vb.Len() > 0 {
		if err := c.RunBatch(ctx, vb); err != nil {
			return nil, fmt.Errorf("reading feature parameter values: %w", err)
		}
	}
	return in, nil
}

// auditUsers say whose changes are the operator's and Salesforce's.
type auditUsers struct {
	// operators are usernames.
	operators []string
	// systems are names or usernames.
	systems []string
}

// classify says who made a change, by the author's name and username. Usernames are unique across
// Salesforce, so the operator is matched by username only; the LMA's user is matched by name too,
// since its username differs from org to org.
func (u auditUsers) classify(name, username string) string {
	for _, op := range u.operators {
		if username != "" && strings.EqualFold(op, username) {
			return ClassOperator
		}
	}
	for _, s := range u.systems {
		if (name != "" && s == name) || (username != "" && strings.EqualFold(s, username)) {
			return ClassSalesforce
		}
	}
	return ClassPerson
}

// buildAudit classifies the changes; it is a pure function of its input, the Licenses of -f and
// the clock.
func buildAudit(in *auditInput, files []fileLicense, pkgOf map[string]string, users auditUsers, now time.Time, since string) *Audit {
	a := &Audit{GeneratedAt: now, Since: since, WindowStart: in.since, OperatorUsers: users.operators, SystemUsers: users.systems,
		Changes: []AuditChange{}, Notes: []string{noValueHistoryNote}}
	byID := map[string]salesforce.License{}
	for _, l := range in.recs.licenses {
		byID[sfid.Key15(l.ID)] = l
	}
	owners := recordLicenses(files, pkgOf, in.recs)
	describe := func(c *AuditChange, licenseID string) bool {
		l, ok := byID[sfid.Key15(licenseID)]
		if !ok {
			return false // a package outside --package
		}
		c.LicenseID, c.Record, c.PackageID, c.SubscriberOrgID, c.Customer = l.ID, l.Name, l.PackageID(), l.SubscriberOrgID, l.Customer()
		c.License = owners[sfid.Key15(l.ID)]
		return true
	}
	for _, h := range in.history {
		if h.CreatedDate.Before(in.since) {
			continue
		}
		c := AuditChange{At: h.CreatedDate.UTC(), By: h.ChangedBy(), ByUsername: h.ChangedByUsername(), Field: h.Field,
			Old: auditText(h.OldValue), New: auditText(h.NewValue), Source: SourceHistory}
		if !describe(&c, h.ParentID) {
			continue
		}
		switch {
		case h.Field == fieldCreated:
			c.Event = EventInstall
		case h.Field == fieldVersionNumber:
			c.Event = EventUpgrade
		case h.Field == salesforce.FieldStatus && c.New == licstatus.Uninstalled:
			c.Event = EventUninstall
		default:
			c.Event = EventUpdate
		}
		c.Class = users.classify(c.By, c.ByUsername)
		a.Changes = append(a.Changes, c)
	}
	names := map[string]string{}
	for _, params := range in.recs.params {
		for name, fp := range params {
			names[sfid.Key15(fp.ID)] = name
		}
	}
	for _, v := range in.values {
		if v.LastModifiedDate.Before(in.since) {
			continue
		}
		c := AuditChange{At: v.LastModifiedDate.UTC(), Event: EventUpdate, Field: names[sfid.Key15(v.FeatureParameterID)],
			New: valueText(v.dataType, v.FeatureParameterValue), Source: SourceLastModified}
		if v.LastModifiedBy != nil {
			c.By, c.ByUsername = v.LastModifiedBy.Name, v.LastModifiedBy.Username
		}
		if c.Field == "" || !describe(&c, v.LicenseID) {
			continue
		}
		c.Class = users.classify(c.By, c.ByUsername)
		a.Changes = append(a.Changes, c)
	}
	sort.SliceStable(a.Changes, func(i, j int) bool {
		x, y := a.Changes[i], a.Changes[j]
		if !x.At.Equal(y.At) {
			return x.At.Before(y.At)
		}
		if x.LicenseID != y.LicenseID {
			return x.LicenseID < y.LicenseID
		}
		return fieldRank(x.Field) < fieldRank(y.Field)
	})
	for _, c := range a.Changes {
		a.Summary.Changes++
		switch c.Class {
		case ClassOperator:
			a.Summary.Operator++
		case ClassPerson:
			a.Summary.Person++
		case ClassSalesforce:
			a.Summary.Salesforce++
		}
	}
	return a
}

// auditText is a history value as text: numbers without a trailing ".0" (seats 50, not 50.0) and
// "" for null.
func auditText(raw json.RawMessage) string {
	var f *float64
	switch err := json.Unmarshal(raw, &f); {
	case len(raw) == 0 || (err == nil && f == nil):
		return ""
	case err == nil:
		return strconv.FormatFloat(*f, 'f', -1, 64)
	}
	return historyText(raw)
}

// fieldRank orders the changes of one record in one second: creation first, then the license
// fields as the Modify License page shows them, then feature parameters.
func fieldRank(field string) int {
	for i, f := range auditedFields {
		if f == field {
			return i
		}
	}
	return len(auditedFields)
}

// recordLicenses maps the 15-character id of each record a License of -f resolves to (as the
// operator resolves it) to the License that owns it: "namespace/name", or the name alone.
func recordLicenses(files []fileLicense, pkgOf map[string]string, recs *lmoRecords) map[string]string {
	out := map[string]string{}
	if len(files) == 0 {
		return out
	}
	view := recs.view()
	claims := map[[2]string][]decide.Claim{}
	for _, fl := range files {
		res := decide.Resolve(fl.Spec, pkgOf[fl.Namespace+"/"+fl.Name], view)
		if res.Record == nil {
			continue
		}
		key := [2]string{fl.Namespace, sfid.Key15(res.Record.ID)}
		claims[key] = append(claims[key], decide.Claim{Name: fl.Name, Created: fl.CreationTimestamp.Time})
	}
	keys := make([][2]string, 0, len(claims))
	for k := range claims {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"/"+keys[i][1] < keys[j][0]+"/"+keys[j][1] })
	for _, k := range keys {
		name := decide.Owner(claims[k])
		if k[0] != "" {
			name = k[0] + "/" + name
		}
		if prev := out[k[1]]; prev != "" {
			name = prev + ", " + name
		}
		out[k[1]] = name
	}
	return out
}

// byText is the author as the table shows it: name (username).
func byText(c AuditChange) string {
	switch {
	case c.By != "" && c.ByUsername != "":
		return c.By + " (" + c.ByUsername + ")"
	case c.ByUsername != "":
		return c.ByUsername
	}
	return orDash(c.By)
}

// fieldText shortens the LMA's field names for the table.
func fieldText(field string) string {
	switch field {
	case salesforce.FieldStatus:
		return "Status"
	case salesforce.FieldSeats:
		return "Seats"
	case salesforce.FieldExpiration:
		return "Expiration"
	case fieldVersionNumber:
		return "Version"
	case fieldCreated:
		return "(created)"
	}
	return field
}

// writeAuditTable prints a heading, one row per change, a summary line and the notes.
func writeAuditTable(w io.Writer, a *Audit) error {
	fmt.Fprintf(w, "Audit of managed license fields since %s (%s); operator: %s; Salesforce: %s\n\n",
		a.WindowStart.Format(time.RFC3339), a.Since, strings.Join(a.OperatorUsers, ", "), strings.Join(a.SystemUsers, ", "))
	if len(a.Changes) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tCLASS\tEVENT\tBY\tCUSTOMER\tRECORD\tFIELD\tOLD\tNEW\tLICENSE")
		for _, c := range a.Changes {
			old := c.Old
			if c.Source == SourceLastModified {
				old = "?"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.At.Format(time.RFC3339), c.Class, c.Event,
				tableText(byText(c), 48), orDash(tableText(c.Customer, 32)), orDash(c.Record), tableText(fieldText(c.Field), 40),
				orDash(tableText(old, 24)), orDash(tableText(c.New, 24)), orDash(tableText(c.License, 48)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	s := a.Summary
	fmt.Fprintf(w, "%d changes: %d by the operator, %d by people (drift), %d by Salesforce.\n", s.Changes, s.Operator, s.Person, s.Salesforce)
	for _, n := range a.Notes {
		fmt.Fprintf(w, "Note: %s.\n", n)
	}
	return nil
}

// auditCSVHeader is the first row of -o csv.
var auditCSVHeader = []string{"at", "class", "event", "by", "byUsername", "licenseID", "record", "packageID", "subscriberOrgID",
	"customer", "field", "old", "new", "source", "license"}

// writeAuditCSV writes one row per change under auditCSVHeader (RFC 4180). Text that came from the
// LMO and starts like a spreadsheet formula is prefixed with a quote so that opening the file runs
// nothing.
func writeAuditCSV(w io.Writer, a *Audit) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(auditCSVHeader); err != nil {
		return err
	}
	for _, c := range a.Changes {
		row := []string{c.At.Format(time.RFC3339), c.Class, c.Event, csvText(c.By), csvText(c.ByUsername), c.LicenseID, csvText(c.Record),
			c.PackageID, c.SubscriberOrgID, csvText(c.Customer), csvText(c.Field), csvValue(c.Old), csvValue(c.New), c.Source, csvText(c.License)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvText neutralises a leading formula character.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvValue is csvText for a field value, leaving numbers (seats -1) as they are.
func csvValue(s string) string {
	if s != "" && s[0] == '-' && strings.Trim(s[1:], "0123456789.") == "" {
		return s
	}
	return csvText(s)
}
