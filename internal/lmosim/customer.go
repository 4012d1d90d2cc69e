package lmosim

import "fmt"

// The customer behind a license. Each install creates a Lead (the person who installed, and their
// company); converting the lead gives the license an Account. The License Object Fields page
// (ISVforce Guide, lma_license_details) describes the Account and Contact lookups as set for a
// converted lead and the Lead lookup as the lead the LMA created on install. lmosim keeps the
// lead's person (name, email) so tests can prove the operator never reads it.
const (
	objAccount    = "Account"
	objLead       = "Lead"
	prefixAccount = "001"
)

// Field sizes of the org status fields in the LMA's metadata (a public export of the License
// object: sfLma__Org_Status_Formula__c is Text(20), sfLma__Org_Trial_Expiration__c Text(15)), and
// of Account.Name and Lead.Company.
const (
	maxOrgStatus          = 20
	maxOrgTrialExpiration = 15
	maxAccountName        = 255
	maxCompany            = 255
)

type accountRec struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	audit
}

func (r *accountRec) recID() string { return r.ID }

type leadRec struct {
	ID      string `json:"id"`
	Name    string `json:"name"` // the person: personal data
	Email   string `json:"email"`
	Company string `json:"company"`
	audit
}

func (r *leadRec) recID() string { return r.ID }

func (st *store) account(id string) *accountRec {
	a, _ := st.get(id).(*accountRec)
	return a
}

func (st *store) lead(id string) *leadRec {
	l, _ := st.get(id).(*leadRec)
	return l
}

// accountNamed finds the account with a name, or creates it.
func (st *store) accountNamed(name string, a audit) *accountRec {
	for _, acc := range st.accounts {
		if acc.Name == name {
			return acc
		}
	}
	acc := &accountRec{ID: st.newID(prefixAccount), Name: name, audit: a}
	st.accounts = append(st.accounts, acc)
	st.add(acc)
	return acc
}

// addLead stores a lead under an id already handed out (the license's LeadID).
func (st *store) addLead(l *leadRec) {
	st.leads = append(st.leads, l)
	st.add(l)
}

// customerName is the name the admin API shows: the account's, else the lead's company.
func (st *store) customerName(l *licenseRec) string {
	if a := st.account(l.AccountID); a != nil && a.Name != "" {
		return a.Name
	}
	if ld := st.lead(l.LeadID); ld != nil {
		return ld.Company
	}
	return ""
}

// validateOrgState checks org status and trial expiration values against the fields' sizes.
func validateOrgState(where string, status, trialExpiration *string) error {
	if status != nil && len(*status) > maxOrgStatus {
		return fmt.Errorf("%sorgStatus %q is longer than %d characters (sfLma__Org_Status__c)", where, *status, maxOrgStatus)
	}
	if trialExpiration != nil && len(*trialExpiration) > maxOrgTrialExpiration {
		return fmt.Errorf("%sorgTrialExpiration %q is longer than %d characters (sfLma__Org_Trial_Expiration__c)", where, *trialExpiration, maxOrgTrialExpiration)
	}
	return nil
}

func accountObject() *objectDef {
	g := func(f func(a *accountRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*accountRec)) }
	}
	return &objectDef{name: objAccount, label: "Account", prefix: prefixAccount,
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Account Name", get: g(func(a *accountRec) val { return str(a.Name) })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			for _, a := range st.accounts {
				fn(a)
			}
		}}
}

func leadObject() *objectDef {
	g := func(f func(l *leadRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*leadRec)) }
	}
	return &objectDef{name: objLead, label: "Lead", prefix: prefixLead,
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Full Name", get: g(func(l *leadRec) val { return str(l.Name) })},
			{name: "Email", typ: "email", label: "Email", nillable: true, get: g(func(l *leadRec) val { return optStr(l.Email) })},
			{name: "Company", typ: "string", label: "Company", get: g(func(l *leadRec) val { return str(l.Company) })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			for _, l := range st.leads {
				fn(l)
			}
		}}
}
