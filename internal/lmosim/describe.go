package lmosim

import (
	"net/http"
	"sort"
)

type describeField struct {
	Name             string          `json:"name"`
	Label            string          `json:"label"`
	Type             string          `json:"type"`
	Updateable       bool            `json:"updateable"`
	Createable       bool            `json:"createable"`
	Nillable         bool            `json:"nillable"`
	Filterable       bool            `json:"filterable"`
	Sortable         bool            `json:"sortable"`
	Custom           bool            `json:"custom"`
	ReferenceTo      []string        `json:"referenceTo"`
	RelationshipName *string         `json:"relationshipName"`
	PicklistValues   []picklistValue `json:"picklistValues"`
}

type picklistValue struct {
	Value        string `json:"value"`
	Label        string `json:"label"`
	Active       bool   `json:"active"`
	DefaultValue bool   `json:"defaultValue"`
}

type objectSummary struct {
	Name       string            `json:"name"`
	Label      string            `json:"label"`
	KeyPrefix  string            `json:"keyPrefix"`
	Custom     bool              `json:"custom"`
	Queryable  bool              `json:"queryable"`
	Updateable bool              `json:"updateable"`
	Createable bool              `json:"createable"`
	Deletable  bool              `json:"deletable"`
	URLs       map[string]string `json:"urls"`
}

func summary(obj *objectDef, version string) objectSummary {
	base := "/services/data/v" + version + "/sobjects/" + obj.name
	updateable := false
	for _, f := range obj.fields {
		updateable = updateable || f.updateable
	}
	return objectSummary{Name: obj.name, Label: obj.label, KeyPrefix: obj.prefix, Custom: obj.pkg != "", Queryable: true,
		Updateable: updateable, URLs: map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"}}
}

// serveDescribe is GET sobjects/TYPE/describe.
func (s *Server) serveDescribe(w http.ResponseWriter, r *http.Request, req *request, typ string) {
	obj := s.installedObject(typ)
	if obj == nil {
		notFound(w)
		return
	}
	type describe struct {
		objectSummary
		Fields          []describeField  `json:"fields"`
		RecordTypeInfos []recordTypeInfo `json:"recordTypeInfos"`
	}
	d := describe{objectSummary: summary(obj, req.version), RecordTypeInfos: s.recordTypeInfos(obj)}
	for _, f := range obj.fields {
		if !s.installed(f.pkg) {
			continue
		}
		s.mu.RLock()
		readOnly := s.st.readOnly[f.name]
		s.mu.RUnlock()
		df := describeField{Name: f.name, Label: f.label, Type: f.typ, Updateable: f.updateable && !readOnly, Nillable: f.nillable,
			Filterable: f.typ != "anyType", Sortable: f.typ != "anyType", Custom: len(f.name) > 3 && f.name[len(f.name)-3:] == "__c",
			ReferenceTo: []string{}, PicklistValues: []picklistValue{}}
		if f.typ == "reference" {
			if f.refTo != "" {
				df.ReferenceTo = []string{f.refTo}
			}
			rel := f.relName
			df.RelationshipName = &rel
		}
		for _, p := range f.picklist {
			df.PicklistValues = append(df.PicklistValues, picklistValue{Value: p, Label: p, Active: true})
		}
		d.Fields = append(d.Fields, df)
	}
	writeJSON(w, http.StatusOK, d)
}

// serveGlobalDescribe is GET sobjects.
func (s *Server) serveGlobalDescribe(w http.ResponseWriter, r *http.Request, req *request) {
	var list []objectSummary
	for _, obj := range schema {
		if s.installed(obj.pkg) {
			list = append(list, summary(obj, req.version))
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list})
}

// serveObjectInfo is GET sobjects/TYPE.
func (s *Server) serveObjectInfo(w http.ResponseWriter, r *http.Request, req *request, typ string) {
	obj := s.installedObject(typ)
	if obj == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"objectDescribe": summary(obj, req.version), "recentItems": []any{}})
}
