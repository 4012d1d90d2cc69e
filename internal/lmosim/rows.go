package lmosim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const maxBodyBytes = 16 << 20

// findRecord finds a record of an installed object by id (15 or 18 characters).
func (s *Server) findRecord(obj *objectDef, id string) record {
	if obj.history {
		for _, h := range s.st.history {
			if sfid.Key15(h.ID) == sfid.Key15(id) {
				return h
			}
		}
		return nil
	}
	r := s.st.get(id)
	if r == nil || objectForID(id) != obj {
		return nil
	}
	return r
}

func (s *Server) installedObject(name string) *objectDef {
	obj := lookupObject(name)
	if obj == nil || !s.installed(obj.pkg) {
		return nil
	}
	return obj
}

// fullSelection selects every field of an object, or the ones listed in ?fields=.
func fullSelection(obj *objectDef, fieldsParam string, installed func(string) bool) (*selNode, *soqlError) {
	sel := &selNode{obj: obj}
	if fieldsParam == "" {
		for _, f := range obj.fields {
			if !installed(f.pkg) {
				continue
			}
			sel.kids = append(sel.kids, &selNode{name: f.name, field: f})
		}
		return sel, nil
	}
	for _, name := range strings.Split(fieldsParam, ",") {
		f := obj.field(strings.TrimSpace(name))
		if f == nil || !installed(f.pkg) {
			return nil, invalidField("No such column '%s' on entity '%s'", strings.TrimSpace(name), obj.name)
		}
		if sel.child(f.name) == nil {
			sel.kids = append(sel.kids, &selNode{name: f.name, field: f})
		}
	}
	return sel, nil
}

// serveRowGet is GET sobjects/TYPE/ID.
func (s *Server) serveRowGet(w http.ResponseWriter, r *http.Request, req *request, typ, id string) {
	obj := s.installedObject(typ)
	if obj == nil {
		notFound(w)
		return
	}
	sel, serr := fullSelection(obj, r.URL.Query().Get("fields"), s.installed)
	if serr != nil {
		writeError(w, http.StatusBadRequest, serr.code, serr.msg)
		return
	}
	s.mu.RLock()
	rec := s.findRecord(obj, id)
	var b []byte
	if rec != nil {
		b = sel.appendRecord(nil, s.st, rec, req.version, renderOpts{})
	}
	s.mu.RUnlock()
	if rec == nil {
		notFound(w)
		return
	}
	writeRaw(w, http.StatusOK, b)
}

// serveRowPatch is PATCH sobjects/TYPE/ID.
func (s *Server) serveRowPatch(w http.ResponseWriter, r *http.Request, req *request, typ, id string) {
	obj := s.installedObject(typ)
	if obj == nil {
		notFound(w)
		return
	}
	var body map[string]json.RawMessage
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil || body == nil {
		writeError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body is not a JSON object of fields")
		return
	}
	var since time.Time
	if h := r.Header.Get("If-Unmodified-Since"); h != "" {
		if since, err = http.ParseTime(h); err != nil {
			writeError(w, http.StatusBadRequest, "INVALID_HEADER_TYPE", "If-Unmodified-Since is not an RFC 1123 date")
			return
		}
	}
	now := s.now()
	s.mu.Lock()
	rec := s.findRecord(obj, id)
	if rec == nil || obj.history || obj.name == objOrganization || obj.name == objUser {
		s.mu.Unlock()
		if rec == nil {
			notFound(w)
		} else {
			writeError(w, http.StatusBadRequest, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
		}
		return
	}
	if !since.IsZero() {
		modified := time.UnixMilli(rec.aud().Modified).Truncate(time.Second)
		if modified.After(since) {
			s.mu.Unlock()
			writeError(w, http.StatusPreconditionFailed, "PRECONDITION_FAILED", fmt.Sprintf(
				"The requested resource has been modified since %s", since.UTC().Format(http.TimeFormat)))
			return
		}
	}
	changes, rerr := planUpdate(s.st, obj, rec, body, now.UTC().Format(dateLayout))
	if rerr == nil {
		applyChanges(s.st, rec, changes, req.session.client.userID, now, req.faults.commitDelay)
	}
	s.mu.Unlock()
	if rerr != nil {
		code := rerr.code
		if rerr.parse {
			code = "JSON_PARSER_ERROR"
		}
		writeError(w, http.StatusBadRequest, code, rerr.msg, rerr.fields...)
		return
	}
	s.stats.written(1)
	if len(changes) > 0 {
		s.changed()
	}
	w.WriteHeader(http.StatusNoContent)
}

// collectionResult is one record's result of a Collections call.
type collectionResult struct {
	ID      string            `json:"id,omitempty"`
	Success bool              `json:"success"`
	Errors  []collectionError `json:"errors"`
}

type collectionError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func failed(id string, e *recError) collectionResult {
	fields := e.fields
	if fields == nil {
		fields = []string{}
	}
	return collectionResult{ID: id, Errors: []collectionError{{StatusCode: e.code, Message: e.msg, Fields: fields}}}
}

// serveCollections is PATCH composite/sobjects: update up to 200 records of any types.
func (s *Server) serveCollections(w http.ResponseWriter, r *http.Request, req *request) {
	var body struct {
		AllOrNone bool                         `json:"allOrNone"`
		Records   []map[string]json.RawMessage `json:"records"`
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body is not a valid sObject Collections request")
		return
	}
	if len(body.Records) > 200 {
		writeError(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
		return
	}
	// Salesforce processes a call in chunks, a chunk being a run of consecutive records of one type,
	// and takes at most 10 of them ("Update Records Using sObject Collections"). Its REST answer to
	// more is not documented: lmosim refuses the whole call, the strictest reading.
	if chunks := collectionChunks(body.Records); chunks > maxCollectionChunks {
		writeError(w, http.StatusBadRequest, "INVALID_BATCH_REQUEST", fmt.Sprintf(
			"Cannot have more than %d chunks in a single operation (this one has %d). Please rearrange the data to reduce chunking.", maxCollectionChunks, chunks))
		return
	}
	n := len(body.Records)
	locked := map[int]bool{}
	if share := req.faults.lockRowShare; share > 0 && n > 0 {
		k := int(float64(n) * share) // round down, so a lone retried record eventually goes through
		if share >= 1 {
			k = n
		}
		for _, i := range req.faults.lockRng.Perm(n)[:k] {
			locked[i] = true
		}
	}
	now := s.now()
	today := now.UTC().Format(dateLayout)
	results := make([]collectionResult, n)
	var saved []savedRecord
	ok := 0
	s.mu.Lock()
	for i, fields := range body.Records {
		id, obj, rerr := s.collectionTarget(fields)
		if rerr != nil {
			results[i] = failed(id, rerr)
			continue
		}
		if locked[i] {
			results[i] = failed(id, refuse("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: "+id))
			continue
		}
		rec := s.findRecord(obj, id)
		if rec == nil || obj.history || obj.name == objOrganization || obj.name == objUser {
			results[i] = failed(id, refuse("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
			continue
		}
		changes, rerr := planUpdate(s.st, obj, rec, fields, today)
		if rerr != nil {
			results[i] = failed(id, rerr)
			continue
		}
		if body.AllOrNone {
			saved = append(saved, saveRecord(s.st, rec))
		}
		applyChanges(s.st, rec, changes, req.session.client.userID, now, req.faults.commitDelay)
		results[i] = collectionResult{ID: id, Success: true, Errors: []collectionError{}}
		ok++
	}
	if body.AllOrNone && ok < n {
		for i := len(saved) - 1; i >= 0; i-- {
			saved[i].restore(s.st)
		}
		for i := range results {
			if results[i].Success {
				results[i] = failed(results[i].ID, refuse("ALL_OR_NONE_OPERATION_ROLLED_BACK",
					"Record rolled back because not all records were valid and the request was using AllOrNone header"))
			}
		}
		ok = 0
	}
	s.mu.Unlock()
	s.stats.written(ok)
	if ok > 0 {
		s.changed()
	}
	writeJSON(w, http.StatusOK, results)
}

// maxCollectionChunks is the most chunks one sObject Collections call may have.
const maxCollectionChunks = 10

// collectionChunks counts the runs of consecutive records of one type.
func collectionChunks(records []map[string]json.RawMessage) int {
	n, last := 0, "\x00"
	for _, r := range records {
		var attrs struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(r["attributes"], &attrs)
		if attrs.Type != last {
			n++
			last = attrs.Type
		}
	}
	return n
}

// collectionTarget reads the id and type of one Collections record.
func (s *Server) collectionTarget(fields map[string]json.RawMessage) (string, *objectDef, *recError) {
	var id string
	for _, k := range []string{"id", "Id", "ID"} {
		if raw, ok := fields[k]; ok {
			_ = json.Unmarshal(raw, &id)
			delete(fields, k)
		}
	}
	var attrs struct {
		Type string `json:"type"`
	}
	if raw, ok := fields["attributes"]; ok {
		_ = json.Unmarshal(raw, &attrs)
	}
	if id == "" {
		return "", nil, refuse("MISSING_ARGUMENT", "Id not specified in an update call")
	}
	if attrs.Type == "" {
		// Every record of a Collections call names its type in attributes.
		return id, nil, refuse("INVALID_TYPE", "The attributes of each record must name its sObject type")
	}
	if !validID(to18(id), "") {
		return id, nil, refuse("MALFORMED_ID", "malformed id "+id)
	}
	obj := objectForID(id)
	if attrs.Type != "" {
		named := s.installedObject(attrs.Type)
		if named == nil {
			return id, nil, refuse("INVALID_TYPE", "sObject type '"+attrs.Type+"' is not supported")
		}
		if obj != named {
			return id, nil, refuse("MALFORMED_ID", fmt.Sprintf("Id %s is not an id of %s", id, named.name))
		}
	}
	if obj == nil || !s.installed(obj.pkg) {
		return id, nil, refuse("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
	}
	return id, obj, nil
}
