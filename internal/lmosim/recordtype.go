package lmosim

// The LMA's License object carries five record types, Active, Trial, Suspended, Uninstalled and
// Expired (developer names sfLma__Active, …), and its License Status formula field
// (sfLma__License_Status__c) is $RecordType.Name: the status the LMA page shows is the record
// type's name, not sfLma__Status__c. Source: the LMA metadata export in morgantidyops/tidyops,
// force-app/main/default/objects/sfLma__License__c/recordTypes/ and
// fields/sfLma__License_Status__c.field-meta.xml. docs/salesforce-fidelity.md has the rows.

const objRecordType = "RecordType"

// prefixRecordType is Salesforce's key prefix of RecordType ids.
const prefixRecordType = "012"

// masterRecordTypeID is the id Salesforce gives the Master record type of every object.
const masterRecordTypeID = "012000000000000AAA"

// recordTypeRec is one record type of the License object.
type recordTypeRec struct {
	ID            string
	Name          string
	DeveloperName string
	audit
}

func (r *recordTypeRec) recID() string { return r.ID }

// licenseRecordTypeNames are the License record types, by name, in the LMA's order.
var licenseRecordTypeNames = []string{"Active", "Expired", "Suspended", "Trial", "Uninstalled"}

// licenseRecordTypes are the License object's record types; their ids are fixed so tests and state
// files agree.
var licenseRecordTypes = func() map[string]*recordTypeRec {
	m := map[string]*recordTypeRec{}
	for i, name := range licenseRecordTypeNames {
		// The metadata names them sfLma__Active, …; the RecordType record's DeveloperName carries no
		// namespace (NamespacePrefix holds it), and neither does describe's developerName.
		m[name] = &recordTypeRec{ID: makeID(prefixRecordType, uint64(1001+i)), Name: name, DeveloperName: name}
	}
	return m
}()

// recordTypeForStatus is the record type the LMA gives a license of a status: the one of the same
// name; a status the LMA does not define keeps the Active one.
func recordTypeForStatus(status string) string {
	if _, ok := licenseRecordTypes[status]; ok && status != "Expired" {
		return status
	}
	return "Active"
}

// validRecordType reports whether name is one of the License record types.
func validRecordType(name string) bool {
	_, ok := licenseRecordTypes[name]
	return ok
}

// licenseTypeLocked reports whether an sfLma__License_Type__c value marks a license the LMA does not
// let anyone modify. The field is Text(255) and its LMA description gives "Read-Only" as such a
// value; lmosim reads every value other than empty and "Editable" as locked.
func licenseTypeLocked(v string) bool {
	return v != "" && v != "Editable"
}

func recordTypeObject() *objectDef {
	g := func(f func(r *recordTypeRec) val) func(*store, record) val {
		return func(_ *store, r record) val { return f(r.(*recordTypeRec)) }
	}
	return &objectDef{name: objRecordType, label: "Record Type", prefix: prefixRecordType,
		fields: append([]*fieldDef{idField(),
			{name: "Name", typ: "string", label: "Record Type Label", get: g(func(r *recordTypeRec) val { return str(r.Name) })},
			{name: "DeveloperName", typ: "string", label: "Record Type Name", get: g(func(r *recordTypeRec) val { return str(r.DeveloperName) })},
			{name: "NamespacePrefix", typ: "string", label: "Namespace Prefix", nillable: true, get: g(func(r *recordTypeRec) val { return str("sfLma") })},
			{name: "SobjectType", typ: "picklist", label: "SObject Type Name", get: g(func(r *recordTypeRec) val { return str(objLicense) })},
			{name: "IsActive", typ: "boolean", label: "Active", get: g(func(r *recordTypeRec) val { return boolean(true) })},
		}, auditFields()...),
		scan: func(st *store, fn func(record)) {
			if !st.recordTypes {
				return
			}
			for _, name := range licenseRecordTypeNames {
				fn(licenseRecordTypes[name])
			}
		}}
}

// recordTypeInfo is one entry of describe's recordTypeInfos.
type recordTypeInfo struct {
	Active                   bool   `json:"active"`
	Available                bool   `json:"available"`
	DefaultRecordTypeMapping bool   `json:"defaultRecordTypeMapping"`
	DeveloperName            string `json:"developerName"`
	Master                   bool   `json:"master"`
	Name                     string `json:"name"`
	RecordTypeID             string `json:"recordTypeId"`
}

// recordTypeInfos is describe's recordTypeInfos of an object: Master, and for the License object
// its record types while the org has them.
func (s *Server) recordTypeInfos(obj *objectDef) []recordTypeInfo {
	var out []recordTypeInfo
	if obj.name == objLicense && s.st.recordTypes {
		for _, name := range licenseRecordTypeNames {
			rt := licenseRecordTypes[name]
			out = append(out, recordTypeInfo{Active: true, Available: true, DefaultRecordTypeMapping: name == "Active",
				DeveloperName: rt.DeveloperName, Name: rt.Name, RecordTypeID: rt.ID})
		}
	}
	return append(out, recordTypeInfo{Active: true, Available: true, DefaultRecordTypeMapping: len(out) == 0,
		DeveloperName: "Master", Master: true, Name: "Master", RecordTypeID: masterRecordTypeID})
}
