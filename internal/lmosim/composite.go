package lmosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const (
	maxCompositeSubrequests = 25
	maxCompositeQueries     = 5 // query, queryAll, query locators and sObject Collections
)

// compositeSub is one entry of a Composite request's compositeRequest array.
type compositeSub struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        json.RawMessage   `json:"body"`
	HTTPHeaders map[string]string `json:"httpHeaders"`
}

// compositeResult is one entry of the compositeResponse array; body is raw JSON (nil: null).
type compositeResult struct {
	body   []byte
	status int
	refID  string
}

// plannedSub is a validated subrequest.
type plannedSub struct {
	compositeSub
	u       *url.URL
	version string // "62.0", or "" when the path names no version
	rest    string
	op      string
}

// subRecorder captures a subrequest's response.
type subRecorder struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (rec *subRecorder) Header() http.Header { return rec.header }

func (rec *subRecorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
}

func (rec *subRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.buf.Write(b)
}

var compositeMethods = map[string]bool{http.MethodGet: true, http.MethodPatch: true, http.MethodPost: true,
	http.MethodPut: true, http.MethodDelete: true, http.MethodHead: true}

// errorBody renders a one-entry Salesforce error array.
func errorBody(code, msg string) []byte {
	b, _ := json.Marshal([]apiError{{Message: msg, ErrorCode: code}})
	return b
}

// serveComposite is POST composite: up to 25 subrequests run in order, answered together, counted
// as one API call.
func (s *Server) serveComposite(w http.ResponseWriter, r *http.Request, req *request) {
	var body struct {
		AllOrNone        bool           `json:"allOrNone"`
		CompositeRequest []compositeSub `json:"compositeRequest"`
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body is not a valid Composite request")
		return
	}
	subs, code, msg := planComposite(body.CompositeRequest, body.AllOrNone)
	if code != "" {
		writeError(w, http.StatusBadRequest, code, msg)
		return
	}

	// A lockRowShare fault on composite fails floor(n×share) of the row PATCH subrequests.
	locked := map[int]bool{}
	if share := req.faults.lockRowShare; share > 0 {
		var patches []int
		for i, sub := range subs {
			if sub.op == opRowPatch {
				patches = append(patches, i)
			}
		}
		if n := len(patches); n > 0 {
			k := int(float64(n) * share)
			if share >= 1 {
				k = n
			}
			for _, j := range req.faults.lockRng.Perm(n)[:k] {
				locked[patches[j]] = true
			}
		}
	}

	results := make([]compositeResult, len(subs))
	var saved []compositeSave
	failedAt := -1
	for i, sub := range subs {
		res := compositeResult{refID: sub.ReferenceID}
		switch {
		case locked[i]:
			id := strings.Split(strings.Trim(sub.rest, "/"), "/")[2]
			res.status, res.body = http.StatusBadRequest, errorBody("UNABLE_TO_LOCK_ROW",
				"unable to obtain exclusive access to this record or 1 records: "+id)
		default:
			var snap *compositeSave
			if body.AllOrNone && sub.op == opRowPatch {
				snap = s.snapshotForComposite(sub.rest)
			}
			res.status, res.body = s.runSubrequest(r, req, sub)
			if snap != nil && res.status < 300 {
				s.finishSnapshot(snap)
				saved = append(saved, *snap)
			}
		}
		results[i] = res
		if res.status >= 400 && failedAt < 0 {
			failedAt = i
			if body.AllOrNone {
				break
			}
		}
	}
	if body.AllOrNone && failedAt >= 0 {
		s.rollbackComposite(saved)
		s.stats.written(-len(saved))
		halted := errorBody("PROCESSING_HALTED", "The transaction was rolled back since another operation in the same transaction failed.")
		for i := range results {
			if i != failedAt {
				results[i] = compositeResult{body: halted, status: http.StatusBadRequest, refID: subs[i].ReferenceID}
			}
		}
	}

	b := []byte(`{"compositeResponse":[`)
	for i, res := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"body":`...)
		if len(res.body) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, res.body...)
		}
		b = append(b, `,"httpHeaders":{},"httpStatusCode":`...)
		b = strconv.AppendInt(b, int64(res.status), 10)
		b = append(b, `,"referenceId":`...)
		b = appendJSONString(b, res.refID)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	writeRaw(w, http.StatusOK, b)
}

// planComposite validates the subrequests; a non-empty code fails the whole request with 400.
func planComposite(in []compositeSub, allOrNone bool) ([]plannedSub, string, string) {
	if len(in) == 0 {
		return nil, "INVALID_API_INPUT", "compositeRequest must contain at least one subrequest"
	}
	if len(in) > maxCompositeSubrequests {
		return nil, "LIMIT_EXCEEDED", fmt.Sprintf("A composite request can contain at most %d subrequests; this one has %d", maxCompositeSubrequests, len(in))
	}
	seen := map[string]bool{}
	queries := 0
	out := make([]plannedSub, len(in))
	for i, sub := range in {
		p := plannedSub{compositeSub: sub}
		switch {
		case sub.ReferenceID == "":
			return nil, "INVALID_API_INPUT", fmt.Sprintf("Subrequest %d has no referenceId", i)
		case strings.ContainsAny(sub.ReferenceID, ".@{}[] "):
			return nil, "INVALID_API_INPUT", "Invalid referenceId: " + sub.ReferenceID
		case seen[sub.ReferenceID]:
			return nil, "INVALID_API_INPUT", "Duplicate ReferenceId provided in the request: " + sub.ReferenceID
		case !compositeMethods[sub.Method]:
			return nil, "INVALID_API_INPUT", fmt.Sprintf("Subrequest %s has an invalid method %q", sub.ReferenceID, sub.Method)
		}
		seen[sub.ReferenceID] = true
		u, err := url.Parse(sub.URL)
		if err != nil || !strings.HasPrefix(u.Path, "/services/data/v") {
			return nil, "INVALID_API_INPUT", fmt.Sprintf("The url of subrequest %s must start with /services/data/vXX.X/", sub.ReferenceID)
		}
		p.u = u
		if m := reVersionPath.FindStringSubmatch(u.Path); m != nil {
			p.version, p.rest = m[1], m[2]
			p.op = classify(sub.Method, p.rest)
		} else {
			p.op = opOther
		}
		switch p.op {
		case opQuery, opQueryMore, opCollectionsPatch:
			queries++
		}
		if allOrNone && p.op == opCollectionsPatch {
			return nil, "INVALID_API_INPUT", "lmosim does not roll back sObject Collections subrequests: send them with allOrNone false"
		}
		out[i] = p
	}
	if queries > maxCompositeQueries {
		return nil, "LIMIT_EXCEEDED", fmt.Sprintf("A composite request can contain at most %d query and sObject Collections subrequests; this one has %d", maxCompositeQueries, queries)
	}
	return out, "", ""
}

// runSubrequest serves one subrequest through the ordinary handlers, uncounted and without faults
// of its own, and returns its status and body.
func (s *Server) runSubrequest(r *http.Request, req *request, sub plannedSub) (int, []byte) {
	v, err := strconv.ParseFloat(sub.version, 64)
	if sub.version == "" || err != nil || v < minVersion || v > maxVersion || !strings.HasSuffix(sub.version, ".0") {
		return http.StatusNotFound, errorBody("NOT_FOUND", "The requested resource does not exist")
	}
	if sub.op == opComposite {
		return http.StatusBadRequest, errorBody("INVALID_API_INPUT", "A composite request can not be a subrequest")
	}
	var body io.Reader = http.NoBody
	if len(sub.Body) > 0 && string(sub.Body) != "null" {
		body = bytes.NewReader(sub.Body)
	}
	sr, err := http.NewRequestWithContext(r.Context(), sub.Method, sub.u.RequestURI(), body)
	if err != nil {
		return http.StatusBadRequest, errorBody("INVALID_API_INPUT", "invalid subrequest: "+err.Error())
	}
	sr.Host = r.Host
	sr.TLS = r.TLS
	for k, v := range sub.HTTPHeaders {
		sr.Header.Set(k, v)
	}
	sr.Header.Set("Content-Type", "application/json")
	subReq := &request{version: sub.version, session: req.session}
	if sub.op == opQuery || sub.op == opQueryMore {
		// A corrupt fault on composite makes its query subrequests' pages hostile.
		subReq.faults.corrupt, subReq.faults.hugeBytes = req.faults.corrupt, req.faults.hugeBytes
	}
	// A late commit on composite makes its row PATCHes commit late.
	subReq.faults.commitDelay = req.faults.commitDelay
	rec := &subRecorder{header: http.Header{}}
	s.dispatch(rec, sr, subReq, sub.op, sub.rest)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.buf.Bytes()
}

// compositeSave is the state of a record before a row PATCH subrequest of an allOrNone composite.
type compositeSave struct {
	saved   savedRecord
	histLen int
	histIDs map[string]bool // history rows the PATCH added
}

func (s *Server) snapshotForComposite(rest string) *compositeSave {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	obj := s.installedObject(parts[1])
	if obj == nil || obj.history {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.findRecord(obj, parts[2])
	if rec == nil {
		return nil
	}
	return &compositeSave{saved: saveRecord(s.st, rec), histLen: len(s.st.history)}
}

// finishSnapshot notes the history rows the PATCH added to the record.
func (s *Server) finishSnapshot(c *compositeSave) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c.histIDs = map[string]bool{}
	id := sfid.Key15(c.saved.r.recID())
	for _, h := range s.st.history[min(c.histLen, len(s.st.history)):] {
		if sfid.Key15(h.ParentID) == id {
			c.histIDs[h.ID] = true
		}
	}
}

// rollbackComposite restores the records of an allOrNone composite and removes their history rows.
func (s *Server) rollbackComposite(saved []compositeSave) {
	if len(saved) == 0 {
		return
	}
	drop := map[string]bool{}
	s.mu.Lock()
	for i := len(saved) - 1; i >= 0; i-- {
		sv := saved[i].saved
		sv.hist = len(s.st.history) // history is removed by id below, not truncated
		sv.restore(s.st)
		for id := range saved[i].histIDs {
			drop[id] = true
		}
	}
	if len(drop) > 0 {
		kept := s.st.history[:0]
		for _, h := range s.st.history {
			if !drop[h.ID] {
				kept = append(kept, h)
			}
		}
		for i := len(kept); i < len(s.st.history); i++ {
			s.st.history[i] = nil
		}
		s.st.history = kept
	}
	s.mu.Unlock()
	s.changed()
}
