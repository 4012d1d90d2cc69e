package lmosim

import "strings"

// Object API names.
const (
	objOrganization = "Organization"
	objUser         = "User"
	objLicense      = "sfLma__License__c"
	objPackage      = "sfLma__Package__c"
	objVersion      = "sfLma__Package_Version__c"
	objParam        = "sfFma__FeatureParameter__c"
	objBoolValue    = "sfFma__FeatureParameterBoolean__c"
	objIntValue     = "sfFma__FeatureParameterInteger__c"
	objDateValue    = "sfFma__FeatureParameterDate__c"
	objHistory      = "sfLma__License__History"
)

// License field API names the rules refer to.
const (
	fStatus     = "sfLma__Status__c"
	fSeats      = "sfLma__Seats__c"
	fExpiration = "sfLma__Expiration__c"
	fValue      = "sfFma__Value__c"
)

// licenseStatuses is the restricted picklist of sfLma__Status__c.
var licenseStatuses = []string{"Trial", "Active", "Suspended", "Uninstalled"}

// fieldDef describes one field of an object: its describe metadata and how to read it.
type fieldDef struct {
	name       string
	typ        string // describe type: id, string, picklist, reference, double, boolean, date, datetime, anyType
	label      string
	updateable bool
	nillable   bool
	picklist   []string
	relName    string // for references: the relationship name (sfLma__Package__r, CreatedBy)
	refTo      string // for references: the parent object, if lmosim has it
	get        func(st *store, r record) val
	parent     func(st *store, r record) record // for references with refTo
	// pkg is "" for a field every org has, else what brings it (see Server.installed): "recordTypes"
	// for RecordTypeId, there only while the object has record types; "licenseType" for
	// sfLma__License_Type__c, which an org's LMA may lack.
	pkg string
}

// objectDef describes one sObject type.
type objectDef struct {
	name    string
	label   string
	prefix  string
	pkg     string // "", "lma" or "fma": the managed package that brings the object; "lmaHistory" for the license history, there only with field history tracking on
	fields  []*fieldDef
	byName  map[string]*fieldDef // lower-case name
	byRel   map[string]*fieldDef // lower-case relationship name
	scan    func(st *store, fn func(r record))
	history bool // rows have no GET by id index
}

func (o *objectDef) field(name string) *fieldDef { return o.byName[lower(name)] }

func (o *objectDef) rel(name string) *fieldDef { return o.byRel[lower(name)] }

// schema is every object lmosim knows, by lower-case name.
var schema = buildSchema()

func lookupObject(name string) *objectDef { return schema[lower(name)] }

func buildSchema() map[string]*objectDef {
	objs := []*objectDef{orgObject(), userObject(), licenseObject(), packageObject(), versionObject(), paramObject(),
		valueObject(objBoolValue, "Feature Parameter Boolean", prefixBoolValue, "Boolean", "boolean"),
		valueObject(objIntValue, "Feature Parameter Integer", prefixIntegerValue, "Integer", "double"),
		valueObject(objDateValue, "Feature Parameter Date", prefixDateValue, "Date", "date"),
		historyObject(), recordTypeObject(), accountObject(), leadObject()}
	m := map[string]*objectDef{}
	for _, o := range objs {
		o.byName = map[string]*fieldDef{}
		o.byRel = map[string]*fieldDef{}
		for _, f := range o.fields {
			o.byName[lower(f.name)] = f
			if f.relName != "" && f.refTo != "" {
				o.byRel[lower(f.relName)] = f
			}
		}
		m[lower(o.name)] = o
	}
	return m
}

func idField() *fieldDef {
	return &fieldDef{name: "Id", typ: "id", label: "Record ID", get: func(_ *store, r record) val { return str(r.recID()) }}
}

func userRef(name, relName, label string, get func(a *audit) string) *fieldDef {
	return &fieldDef{name: name, typ: "reference", label: label, relName: relName, refTo: objUser,
		get:    func(_ *store, r record) val { return optStr(get(r.aud())) },
		parent: func(st *store, r record) record { return asRecord(st.user(get(r.aud()))) }}
}

// asRecord avoids a typed nil inside a record interface.
func asRecord[T record](r T) record {
	var zero T
	if any(r) == any(zero) {
		return nil
	}
	return r
}

// auditFields are the system fields of every object.
func auditFields() []*fieldDef {
	return []*fieldDef{
		{name: "CreatedDate", typ: "datetime", label: "Created Date", get: func(_ *store, r record) val { return dateTime(r.aud().Created) }},
		userRef("CreatedById", "CreatedBy", "Created By ID", func(a *audit) string { return a.CreatedBy }),
		{name: "LastModifiedDate", typ: "datetime", label: "Last Modified Date", get: func(_ *store, r record) val { return dateTime(r.aud().Modified) }},
		userRef("LastModifiedById", "LastModifiedBy", "Last Modified By ID", func(a *audit) string { return a.ModifiedBy }),
		{name: "SystemModstamp", typ: "datetime", label: "System Modstamp", get: func(_ *store, r record) val { return dateTime(r.aud().Modstamp) }},
		{name: "IsDeleted", typ: "boolean", label: "Deleted", get: func(_ *store, r record) val { return boolean(false) }},
	}
}

func orgObject() *objectDef {
	g := func(f func(o *orgRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*orgRec)) }
	}
	return &objectDef{name: objOrganization, label: "Organization", prefix: prefixOrg,
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Name", get: g(func(o *orgRec) val { return str(o.Name) })},
			{name: "OrganizationType", typ: "picklist", label: "Edition", get: g(func(o *orgRec) val { return optStr(o.Edition) })},
			{name: "IsSandbox", typ: "boolean", label: "Is Sandbox", get: g(func(o *orgRec) val { return boolean(o.IsSandbox) })},
			{name: "TrialExpirationDate", typ: "datetime", label: "Trial Expiration Date", nillable: true, get: g(func(o *orgRec) val {
				if o.TrialExpiration == "" {
					return null
				}
				return date(o.TrialExpiration).asDateTime()
			})},
			{name: "InstanceName", typ: "string", label: "Instance Name", nillable: true, get: g(func(o *orgRec) val { return optStr(o.InstanceName) })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) { fn(st.org) }}
}

func userObject() *objectDef {
	g := func(f func(u *userRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*userRec)) }
	}
	return &objectDef{name: objUser, label: "User", prefix: prefixUser,
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Full Name", get: g(func(u *userRec) val { return str(u.Name) })},
			{name: "Username", typ: "string", label: "Username", get: g(func(u *userRec) val { return str(u.Username) })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			for _, u := range st.users {
				fn(u)
			}
		}}
}

func licenseObject() *objectDef {
	g := func(f func(l *licenseRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*licenseRec)) }
	}
	return &objectDef{name: objLicense, label: "License", prefix: prefixLicense, pkg: "lma",
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "License Name", get: g(func(l *licenseRec) val { return str(l.Name) })},
			{name: fStatus, typ: "picklist", label: "Status", updateable: true, nillable: true, picklist: licenseStatuses,
				get: g(func(l *licenseRec) val { return optStr(l.Status) })},
			{name: fSeats, typ: "double", label: "Seats", updateable: true, nillable: true, get: g(func(l *licenseRec) val { return num(l.Seats) })},
			{name: fExpiration, typ: "date", label: "Expiration", updateable: true, nillable: true, get: g(func(l *licenseRec) val { return date(l.Expiration) })},
			{name: "sfLma__Subscriber_Org_ID__c", typ: "string", label: "Subscriber Org ID", nillable: true, get: g(func(l *licenseRec) val { return optStr(l.SubscriberOrgID) })},
			{name: "sfLma__Package__c", typ: "reference", label: "Package", nillable: true, relName: "sfLma__Package__r", refTo: objPackage,
				get:    g(func(l *licenseRec) val { return optStr(l.PackageRecID) }),
				parent: func(st *store, r record) record { return asRecord(st.pkg(r.(*licenseRec).PackageRecID)) }},
			{name: "sfLma__Package_Version__c", typ: "reference", label: "Package Version", nillable: true, relName: "sfLma__Package_Version__r", refTo: objVersion,
				get: g(func(l *licenseRec) val { return optStr(l.VersionRecID) }),
				parent: func(st *store, r record) record {
					v, _ := st.get(r.(*licenseRec).VersionRecID).(*versionRec)
					return asRecord(v)
				}},
			{name: "sfLma__Version_Number__c", typ: "string", label: "Version Number", nillable: true, get: g(func(l *licenseRec) val { return optStr(l.VersionNumber) })},
			{name: "sfLma__Used_Licenses__c", typ: "double", label: "Used Licenses", nillable: true, get: g(func(l *licenseRec) val { return num(l.UsedLicenses) })},
			{name: "sfLma__Org_Type__c", typ: "string", label: "Org Edition", nillable: true, get: g(func(l *licenseRec) val { return optStr(l.OrgType) })},
			{name: "sfLma__Org_Instance__c", typ: "string", label: "Org Instance", nillable: true, get: g(func(l *licenseRec) val { return optStr(l.OrgInstance) })},
			{name: "sfLma__Subscriber_Org_Is_Sandbox__c", typ: "boolean", label: "Sandbox", get: g(func(l *licenseRec) val { return boolean(l.IsSandbox) })},
			{name: "sfLma__Install_Date__c", typ: "date", label: "Install Date", nillable: true, get: g(func(l *licenseRec) val { return date(l.InstallDate) })},
			{name: "sfLma__Account__c", typ: "reference", label: "Account", nillable: true, relName: "sfLma__Account__r", refTo: objAccount,
				get:    g(func(l *licenseRec) val { return optStr(l.AccountID) }),
				parent: func(st *store, r record) record { return asRecord(st.account(r.(*licenseRec).AccountID)) }},
			{name: "sfLma__Contact__c", typ: "reference", label: "Contact", nillable: true, relName: "sfLma__Contact__r", get: g(func(l *licenseRec) val { return optStr(l.ContactID) })},
			{name: "sfLma__Lead__c", typ: "reference", label: "Lead", nillable: true, relName: "sfLma__Lead__r", refTo: objLead,
				get:    g(func(l *licenseRec) val { return optStr(l.LeadID) }),
				parent: func(st *store, r record) record { return asRecord(st.lead(r.(*licenseRec).LeadID)) }},
			// The org status fields are text formulas in the LMA (sfLma__Org_Status__c over
			// sfLma__Org_Status_Formula__c, sfLma__Trial_Expiration_Date__c "Org Expiration Date"
			// over sfLma__Org_Trial_Expiration__c); lmosim serves the stored text through all four.
			{name: "sfLma__Org_Status__c", typ: "string", label: "Org Status", nillable: true, pkg: "orgStatus",
				get: g(func(l *licenseRec) val { return optStr(l.OrgStatus) })},
			{name: "sfLma__Org_Status_Formula__c", typ: "string", label: "Org Status Formula", nillable: true, pkg: "orgStatus",
				get: g(func(l *licenseRec) val { return optStr(l.OrgStatus) })},
			{name: "sfLma__Trial_Expiration_Date__c", typ: "string", label: "Org Expiration Date", nillable: true, pkg: "orgStatus",
				get: g(func(l *licenseRec) val { return optStr(l.OrgTrialExpiration) })},
			{name: "sfLma__Org_Trial_Expiration__c", typ: "string", label: "Org Trial Expiration", nillable: true, pkg: "orgStatus",
				get: g(func(l *licenseRec) val { return optStr(l.OrgTrialExpiration) })},
			{name: "RecordTypeId", typ: "reference", label: "Record Type ID", nillable: true, relName: "RecordType", refTo: objRecordType, pkg: "recordTypes",
				get: g(func(l *licenseRec) val {
					if rt := licenseRecordTypes[l.RecordType]; rt != nil {
						return str(rt.ID)
					}
					return null
				}),
				parent: func(_ *store, r record) record { return asRecord(licenseRecordTypes[r.(*licenseRec).RecordType]) }},
			{name: "sfLma__License_Type__c", typ: "string", label: "License Type", nillable: true, pkg: "licenseType",
				get: g(func(l *licenseRec) val { return optStr(l.LicenseType) })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			for _, l := range st.licenses {
				fn(l)
			}
		}}
}

func packageObject() *objectDef {
	g := func(f func(p *packageRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*packageRec)) }
	}
	return &objectDef{name: objPackage, label: "Package", prefix: prefixPackage, pkg: "lma",
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Package Name", get: g(func(p *packageRec) val { return str(p.Name) })},
			{name: "sfLma__Package_ID__c", typ: "string", label: "Package ID", nillable: true, get: g(func(p *packageRec) val { return optStr(p.PackageID) })},
			{name: "sfLma__Latest_Version__c", typ: "string", label: "Latest Version", nillable: true, get: g(func(p *packageRec) val { return optStr(p.LatestVersion) })},
			{name: "sfLma__Developer_Org_ID__c", typ: "string", label: "Developer Org ID", nillable: true, get: g(func(p *packageRec) val { return optStr(p.DeveloperOrgID) })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			for _, p := range st.packages {
				fn(p)
			}
		}}
}

func versionObject() *objectDef {
	g := func(f func(v *versionRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*versionRec)) }
	}
	return &objectDef{name: objVersion, label: "Package Version", prefix: prefixVersion, pkg: "lma",
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Version Name", get: g(func(v *versionRec) val { return str(v.Name) })},
			{name: "sfLma__Package__c", typ: "reference", label: "Package", relName: "sfLma__Package__r", refTo: objPackage,
				get:    g(func(v *versionRec) val { return optStr(v.PackageRecID) }),
				parent: func(st *store, r record) record { return asRecord(st.pkg(r.(*versionRec).PackageRecID)) }},
			{name: "sfLma__Version_Number__c", typ: "string", label: "Version Number", nillable: true, get: g(func(v *versionRec) val { return optStr(v.VersionNumber) })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			for _, v := range st.versions {
				fn(v)
			}
		}}
}

func paramObject() *objectDef {
	g := func(f func(p *paramRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*paramRec)) }
	}
	return &objectDef{name: objParam, label: "Feature Parameter", prefix: prefixParam, pkg: "fma",
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Feature Parameter Name", get: g(func(p *paramRec) val { return str(p.FullName) })},
			{name: "sfFma__FullName__c", typ: "string", label: "Full Name", nillable: true, get: g(func(p *paramRec) val { return optStr(p.FullName) })},
			{name: "sfFma__DataType__c", typ: "picklist", label: "Data Type", nillable: true, picklist: []string{"Boolean", "Integer", "Date"},
				get: g(func(p *paramRec) val { return optStr(p.DataType) })},
			{name: "sfFma__DataFlowDirection__c", typ: "picklist", label: "Data Flow Direction", nillable: true,
				picklist: []string{"LMO to Subscriber", "Subscriber to LMO"}, get: g(func(p *paramRec) val { return optStr(p.Direction) })},
			{name: "sfFma__Package__c", typ: "reference", label: "Package", nillable: true, relName: "sfFma__Package__r", refTo: objPackage,
				get:    g(func(p *paramRec) val { return optStr(p.PackageRecID) }),
				parent: func(st *store, r record) record { return asRecord(st.pkg(r.(*paramRec).PackageRecID)) }},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			for _, p := range st.params {
				fn(p)
			}
		}}
}

func valueObject(name, label, prefix, dataType, valueType string) *objectDef {
	g := func(f func(v *valueRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*valueRec)) }
	}
	return &objectDef{name: name, label: label, prefix: prefix, pkg: "fma",
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Name", get: g(func(v *valueRec) val { return str(v.ID) })},
			{name: "sfFma__FeatureParameter__c", typ: "reference", label: "Feature Parameter", relName: "sfFma__FeatureParameter__r", refTo: objParam,
				get:    g(func(v *valueRec) val { return optStr(v.ParamID) }),
				parent: func(st *store, r record) record { return asRecord(st.param(r.(*valueRec).ParamID)) }},
			{name: "sfFma__License__c", typ: "reference", label: "License", relName: "sfFma__License__r", refTo: objLicense,
				get:    g(func(v *valueRec) val { return optStr(v.LicenseID) }),
				parent: func(st *store, r record) record { return asRecord(st.license(r.(*valueRec).LicenseID)) }},
			{name: fValue, typ: valueType, label: "Value", updateable: true, nillable: valueType != "boolean",
				get: g(func(v *valueRec) val { return v.value() })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			for _, v := range st.values[dataType] {
				fn(v)
			}
		}}
}

func historyObject() *objectDef {
	g := func(f func(h *historyRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*historyRec)) }
	}
	fields := []*fieldDef{idField(),
		{name: "ParentId", typ: "reference", label: "Parent ID", relName: "Parent", refTo: objLicense,
			get:    g(func(h *historyRec) val { return str(h.ParentID) }),
			parent: func(st *store, r record) record { return asRecord(st.license(r.(*historyRec).ParentID)) }},
		{name: "Field", typ: "picklist", label: "Changed Field", get: g(func(h *historyRec) val { return str(h.Field) })},
		{name: "OldValue", typ: "anyType", label: "Old Value", nillable: true, get: g(func(h *historyRec) val { return h.OldValue })},
		{name: "NewValue", typ: "anyType", label: "New Value", nillable: true, get: g(func(h *historyRec) val { return h.NewValue })},
	}
	for _, f := range auditFields() {
		if f.name == "CreatedDate" || f.name == "CreatedById" || f.name == "IsDeleted" {
			fields = append(fields, f)
		}
	}
	return &objectDef{name: objHistory, label: "License History", prefix: prefixHistory, pkg: "lmaHistory", history: true,
		fields: fields,
		scan: func(st *store, fn func(record)) {
			for _, h := range st.history {
				fn(h)
			}
		}}
}

// asDateTime turns a date into midnight UTC of that day.
func (v val) asDateTime() val {
	if v.K != kDate {
		return v
	}
	t, ok := parseDateMillis(v.S)
	if !ok {
		return null
	}
	return dateTime(t)
}

// objectForID finds the object of an id by its key prefix.
func objectForID(id string) *objectDef {
	for _, o := range schema {
		if strings.HasPrefix(id, o.prefix) {
			return o
		}
	}
	return nil
}
