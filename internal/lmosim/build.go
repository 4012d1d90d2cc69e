package lmosim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const (
	maxSeats          = 99_000_000
	defaultDailyLimit = 100_000
	defaultOrgID      = "00D000000000001AAA"
	// systemUserID is the License Manager user that creates records on installs.
	systemUserName = "License Manager"
)

// buildStore turns a seed into the org's records. now anchors every generated date.
func buildStore(seed *Seed, now time.Time) (*store, error) {
	st := newStore()
	t0 := secondStamp(now.Add(-24 * time.Hour))
	aud := func(by string) audit {
		return audit{Created: t0, CreatedBy: by, Modified: t0, ModifiedBy: by, Modstamp: t0}
	}
	o := seed.Organization
	st.org = &orgRec{ID: to18(o.ID), Name: o.Name, Edition: o.Edition, IsSandbox: o.IsSandbox, InstanceName: o.InstanceName}
	if st.org.ID == "" {
		st.org.ID = defaultOrgID
	}
	if st.org.Name == "" {
		st.org.Name = "lmosim"
	}
	if st.org.Edition == "" {
		st.org.Edition = "Enterprise Edition"
	}
	if st.org.InstanceName == "" {
		st.org.InstanceName = "USA123"
	}
	if o.TrialExpiration != nil {
		st.org.TrialExpiration = *o.TrialExpiration
	}
	st.add(st.org)

	sys := &userRec{ID: st.newID(prefixUser), Name: systemUserName, Username: "license.manager@lmosim.invalid"}
	sys.audit = aud(sys.ID)
	st.users = append(st.users, sys)
	st.add(sys)
	st.org.audit = aud(sys.ID)
	for _, c := range seed.Clients {
		u := &userRec{ID: st.newID(prefixUser), Name: c.Name, Username: c.Username}
		if u.Name == "" {
			u.Name = c.ClientID
		}
		if u.Username == "" {
			u.Username = c.ClientID + "@lmosim.invalid"
		}
		u.audit = aud(sys.ID)
		st.users = append(st.users, u)
		st.add(u)
	}

	for _, sp := range seed.Packages {
		p := &packageRec{ID: st.newID(prefixPackage), Name: sp.Name, PackageID: to18(sp.PackageID), LatestVersion: sp.LatestVersion,
			DeveloperOrgID: sp.DeveloperOrgID, Defaults: sp.Defaults, audit: aud(sys.ID)}
		if p.Name == "" {
			p.Name = p.PackageID
		}
		if p.LatestVersion == "" {
			p.LatestVersion = "1.0.0"
		}
		if p.DeveloperOrgID == "" {
			p.DeveloperOrgID = makeID(prefixOrg, 5_000_000+uint64(len(st.packages)))
		}
		st.packages = append(st.packages, p)
		st.add(p)
		st.versionFor(p, p.LatestVersion, t0, sys.ID)
		for _, fp := range sp.FeatureParameters {
			dir := fp.Direction
			if dir == "" {
				dir = "LMO to Subscriber"
			}
			pr := &paramRec{ID: st.newID(prefixParam), FullName: fp.FullName, DataType: fp.DataType, Direction: dir,
				PackageRecID: p.ID, audit: aud(sys.ID)}
			st.params = append(st.params, pr)
			st.add(pr)
		}
	}

	// Seeded ids first, so that generated ids never take them.
	for _, sl := range seed.Licenses {
		if sl.ID != "" {
			st.byID[sfid.Key15(to18(sl.ID))] = nil
		}
	}
	userOf := map[string]string{}
	for i, c := range seed.Clients {
		userOf[c.ClientID] = st.users[i+1].ID
	}
	today := now.UTC().Format(dateLayout)
	for _, sl := range seed.Licenses {
		p := st.packageByPackageID(to18(sl.PackageID))
		l := newLicense(st, p, sl.SubscriberOrgID, sl.Edition, sl.IsSandbox, today)
		if sl.ID != "" {
			l.ID = to18(sl.ID)
			delete(st.byID, sfid.Key15(l.ID))
		} else {
			l.ID = st.newID(prefixLicense)
		}
		if sl.Status != "" {
			l.Status = sl.Status
		}
		if sl.Seats != nil {
			l.Seats = float64(*sl.Seats)
		}
		switch {
		case sl.Expiration != nil:
			l.Expiration = *sl.Expiration
		case sl.Status == "Trial" && p.defaultStatus() != "Trial":
			l.Expiration = addDays(today, 30)
		case sl.Status != "" && sl.Status != p.defaultStatus():
			l.Expiration = ""
		}
		l.WasActive = l.Status == "Active"
		l.UsedLicenses = float64(sl.UsedLicenses)
		if sl.Version != "" {
			v := st.versionFor(p, sl.Version, t0, sys.ID)
			l.VersionRecID, l.VersionNumber = v.ID, v.VersionNumber
		}
		if sl.InstallDate != "" {
			l.InstallDate = sl.InstallDate
		}
		if sl.OrgInstance != "" {
			l.OrgInstance = sl.OrgInstance
		}
		l.LeadID = st.newID(prefixLead)
		l.audit = aud(sys.ID)
		if by := userOf[sl.LastModifiedBy]; by != "" {
			l.ModifiedBy = by
		}
		l.LicenseType = sl.LicenseType
		l.OrgStatus, l.OrgTrialExpiration = sl.OrgStatus, sl.OrgTrialExpiration
		if sl.Account != "" {
			l.AccountID = st.accountNamed(sl.Account, aud(sys.ID)).ID
		}
		if sl.Lead != nil {
			st.addLead(&leadRec{ID: l.LeadID, Name: sl.Lead.Name, Email: sl.Lead.Email, Company: sl.Lead.Company, audit: aud(sys.ID)})
		}
		st.addLicense(l)
		switch sl.RecordType {
		case "":
		case "none":
			l.RecordType = ""
		default:
			l.RecordType = sl.RecordType
		}
		st.addHistory(l.ID, "created", null, null, sys.ID, t0)
		for _, pr := range st.paramsOf(p.ID) {
			v := newValue(st, pr, l, aud(sys.ID))
			if raw, ok := sl.FeatureParameters[pr.FullName]; ok {
				x, err := seedParamValue(pr.DataType, raw)
				if err != nil {
					return nil, err
				}
				v.set(x)
			}
			st.addValue(v)
		}
	}
	for _, g := range seed.Generate {
		if err := generate(st, g, now, sys.ID); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (p *packageRec) defaultStatus() string {
	if p.Defaults.Status == "" {
		return "Trial"
	}
	return p.Defaults.Status
}

// newLicense makes a license with the package's default terms, as a fresh install gets them.
func newLicense(st *store, p *packageRec, subscriber, edition string, sandbox bool, today string) *licenseRec {
	d := p.Defaults
	l := &licenseRec{Name: st.nextLicenseName(), Status: p.defaultStatus(), SubscriberOrgID: subscriber, PackageRecID: p.ID,
		OrgType: edition, IsSandbox: sandbox, InstallDate: today, OrgInstance: instanceFor(subscriber)}
	if l.OrgType == "" {
		l.OrgType = "Enterprise Edition"
	}
	if v := st.versionFor(p, p.LatestVersion, 0, ""); v != nil {
		l.VersionRecID, l.VersionNumber = v.ID, v.VersionNumber
	}
	l.Seats = float64(d.Seats)
	if d.Seats <= 0 || sandbox {
		l.Seats = -1
	}
	switch l.Status {
	case "Trial":
		days := d.TrialDays
		if days == 0 {
			days = 30
		}
		l.Expiration = addDays(today, days)
	case "Active":
		// The LMA stores 1970-01-01 for a license that does not expire.
		l.Expiration = "1970-01-01"
		if d.ActiveDays > 0 {
			l.Expiration = addDays(today, d.ActiveDays)
		}
		l.WasActive = true
	}
	return l
}

// newValue makes the value record of one feature parameter for a license, with the type's default.
func newValue(st *store, pr *paramRec, l *licenseRec, a audit) *valueRec {
	prefix := map[string]string{"Boolean": prefixBoolValue, "Integer": prefixIntegerValue, "Date": prefixDateValue}[pr.DataType]
	v := &valueRec{ID: st.newID(prefix), Type: pr.DataType, ParamID: pr.ID, LicenseID: l.ID, audit: a}
	if pr.DataType == "Integer" {
		zero := 0.0
		v.Num = &zero
	}
	return v
}

// set stores a typed value (already checked) in the record.
func (r *valueRec) set(x val) {
	switch r.Type {
	case "Boolean":
		r.Bool = x.K == kBool && x.B
	case "Integer":
		if x.K == kNumber {
			n := x.N
			r.Num = &n
		} else {
			r.Num = nil
		}
	default:
		if x.K == kDate {
			r.Date = x.S
		} else {
			r.Date = ""
		}
	}
}

// instanceFor picks a stable Salesforce instance name for a subscriber org.
func instanceFor(subscriber string) string {
	h := fnv.New32a()
	h.Write([]byte(subscriber))
	n := h.Sum32()
	regions := []string{"USA", "EU", "AUS", "JPN"}
	return fmt.Sprintf("%s%d%s", regions[n%4], 10+n/4%700, []string{"S", "", "S", ""}[n/3%4])
}

// generate adds count licenses of a package with a realistic, reproducible mix of terms: mostly
// Active, some Trials (a few expired), Suspended and Uninstalled ones, site licenses, sandboxes and
// subscribers with several licenses.
func generate(st *store, g SeedGenerate, now time.Time, sysID string) error {
	p := st.packageByPackageID(to18(g.PackageID))
	if p == nil {
		return fmt.Errorf("generate: unknown package %s", g.PackageID)
	}
	h := fnv.New64a()
	h.Write([]byte(p.PackageID))
	rng := rand.New(rand.NewPCG(h.Sum64(), uint64(g.RandomSeed)))
	params := st.paramsOf(p.ID)
	today := now.UTC().Truncate(24 * time.Hour)
	editions := []string{"Enterprise Edition", "Enterprise Edition", "Unlimited Edition", "Professional Edition", "Developer Edition"}
	nowMs := secondStamp(now)
	var prevSubscriber string
	st.licenses = growLicenses(st.licenses, g.Count)
	for i := 0; i < g.Count; i++ {
		subscriber := randomOrgID(rng)
		if prevSubscriber != "" && rng.IntN(50) == 0 {
			subscriber = prevSubscriber // a second install in the same org, usually after an uninstall
		}
		prevSubscriber = subscriber
		sandbox := rng.IntN(10) == 0
		installed := today.AddDate(0, 0, -rng.IntN(3*365))
		l := &licenseRec{ID: st.newID(prefixLicense), Name: st.nextLicenseName(), SubscriberOrgID: subscriber, PackageRecID: p.ID,
			OrgType: editions[rng.IntN(len(editions))], IsSandbox: sandbox, InstallDate: installed.Format(dateLayout),
			OrgInstance: instanceFor(subscriber), LeadID: ""}
		v := st.versionFor(p, p.LatestVersion, 0, sysID)
		l.VersionRecID, l.VersionNumber = v.ID, v.VersionNumber
		switch r := rng.IntN(100); {
		case r < 15:
			l.Status = "Trial"
			l.Expiration = today.AddDate(0, 0, rng.IntN(100)-10).Format(dateLayout)
		case r < 80:
			l.Status, l.WasActive = "Active", true
			if rng.IntN(5) < 2 {
				l.Expiration = []string{"", "1970-01-01"}[rng.IntN(2)]
			} else {
				l.Expiration = today.AddDate(0, 0, rng.IntN(900)-60).Format(dateLayout)
			}
		case r < 88:
			l.Status, l.WasActive = "Suspended", rng.IntN(2) == 0
			l.Expiration = today.AddDate(0, 0, rng.IntN(400)-200).Format(dateLayout)
		default:
			l.Status, l.WasActive = "Uninstalled", true
			l.Expiration = today.AddDate(0, 0, rng.IntN(400)-300).Format(dateLayout)
		}
		switch {
		case sandbox || rng.IntN(10) == 0:
			l.Seats = -1
		default:
			l.Seats = float64([]int{5, 10, 10, 25, 50, 100, 250, 1000}[rng.IntN(8)])
		}
		if l.Seats > 0 {
			l.UsedLicenses = float64(rng.IntN(int(l.Seats) + 1))
		} else {
			l.UsedLicenses = float64(rng.IntN(500))
		}
		created := secondStamp(installed.Add(time.Duration(rng.IntN(86_400_000)) * time.Millisecond))
		modified := secondStamp(time.UnixMilli(created + rng.Int64N(max(1, nowMs-created))))
		l.audit = audit{Created: created, CreatedBy: sysID, Modified: modified, ModifiedBy: sysID, Modstamp: modified}
		st.addLicense(l)
		for _, pr := range params {
			v := newValue(st, pr, l, audit{Created: created, CreatedBy: sysID, Modified: created, ModifiedBy: sysID, Modstamp: created})
			switch pr.DataType {
			case "Boolean":
				v.Bool = rng.IntN(3) == 0
			case "Integer":
				n := float64(rng.IntN(200))
				v.Num = &n
			case "Date":
				if rng.IntN(2) == 0 {
					v.Date = today.AddDate(0, 0, rng.IntN(730)).Format(dateLayout)
				}
			}
			st.addValue(v)
		}
	}
	return nil
}

func growLicenses(s []*licenseRec, n int) []*licenseRec {
	if cap(s)-len(s) >= n {
		return s
	}
	out := make([]*licenseRec, len(s), len(s)+n)
	copy(out, s)
	return out
}

// randomOrgID makes a plausible subscriber org id (00D + 12 characters + suffix).
func randomOrgID(rng *rand.Rand) string {
	var b [15]byte
	copy(b[:], "00D")
	for i := 3; i < 15; i++ {
		b[i] = base62[rng.IntN(62)]
	}
	return sfid.To18(string(b[:]))
}
