package lmosim

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	defaultBatchSize = 2000
	minBatchSize     = 200
	maxCursors       = 64
	cursorIdle       = 15 * time.Minute
)

// cursor is the server side of a query locator: a snapshot of the matched records.
type cursor struct {
	id       string
	c        *compiled
	rows     []record
	batch    int
	lastUsed time.Time
}

// cursorSet keeps the open query locators, evicting the oldest and idle ones.
type cursorSet struct {
	mu    sync.Mutex
	seq   uint64
	byID  map[string]*cursor
	order []string
}

func (cs *cursorSet) init() { cs.byID = map[string]*cursor{} }

func (cs *cursorSet) add(c *compiled, rows []record, batch int, now time.Time) *cursor {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.seq++
	id := makeID(prefixCursor, cs.seq)[:15]
	cur := &cursor{id: id, c: c, rows: rows, batch: batch, lastUsed: now}
	cs.byID[id] = cur
	cs.order = append(cs.order, id)
	for len(cs.order) > maxCursors {
		delete(cs.byID, cs.order[0])
		cs.order = cs.order[1:]
	}
	return cur
}

func (cs *cursorSet) get(id string, now time.Time) *cursor {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cur := cs.byID[id]
	if cur == nil {
		return nil
	}
	if now.Sub(cur.lastUsed) > cursorIdle {
		delete(cs.byID, id)
		return nil
	}
	cur.lastUsed = now
	return cur
}

// batchSize reads Sforce-Query-Options: batchSize=N, clamped to 200..2000.
func batchSize(r *http.Request, def int) int {
	for _, opt := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(opt), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "batchSize") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		return min(max(n, minBatchSize), defaultBatchSize)
	}
	return def
}

// serveQuery is GET query?q= and queryAll?q=.
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, req *request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+r.Method+"' not allowed. Allowed are GET")
		return
	}
	src := r.URL.Query().Get("q")
	if strings.TrimSpace(src) == "" {
		writeError(w, http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
		return
	}
	q, err := parseSOQL(src)
	if err != nil {
		se := err.(*soqlError)
		writeError(w, http.StatusBadRequest, se.code, se.msg)
		return
	}
	now := s.now()
	c, serr := compileQuery(q, s.installed, now)
	if serr != nil {
		writeError(w, http.StatusBadRequest, serr.code, serr.msg)
		return
	}
	s.mu.RLock()
	rows := c.run(s.st)
	s.mu.RUnlock()
	if c.count {
		writeRaw(w, http.StatusOK, []byte(`{"totalSize":`+strconv.Itoa(len(rows))+`,"done":true,"records":[]}`))
		return
	}
	batch := batchSize(r, defaultBatchSize)
	var cur *cursor
	if len(rows) > batch || req.faults.corrupt == "endlessPaging" {
		cur = s.cursors.add(c, rows, batch, now)
	}
	s.writePage(w, req, c, rows, 0, batch, cur)
}

// serveQueryMore is GET query/01gXXXX-2000, the next page of a query.
func (s *Server) serveQueryMore(w http.ResponseWriter, r *http.Request, req *request, locator string) {
	id, offText, ok := strings.Cut(locator, "-")
	off, err := strconv.Atoi(offText)
	cur := s.cursors.get(id, s.now())
	if !ok || err != nil || off < 0 || cur == nil {
		writeError(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	batch := batchSize(r, cur.batch)
	if off > len(cur.rows) {
		if req.faults.corrupt != "endlessPaging" {
			writeError(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
			return
		}
		off = 0
	}
	s.writePage(w, req, cur.c, cur.rows, off, batch, cur)
}

// renderOpts are the hostile variations of a page.
type renderOpts struct {
	wrongTypes      bool
	unknownPicklist bool
}

// writePage renders one page of rows starting at off.
func (s *Server) writePage(w http.ResponseWriter, req *request, c *compiled, rows []record, off, batch int, cur *cursor) {
	end := min(off+batch, len(rows))
	page := rows[off:end]
	done := end >= len(rows)
	next := ""
	if !done {
		next = "/services/data/v" + req.version + "/query/" + cur.id + "-" + strconv.Itoa(end)
	}
	mode := req.faults.corrupt
	if mode == "endlessPaging" {
		done = false
		if end >= len(rows) {
			end = 0 // back to the start, forever
		}
		next = "/services/data/v" + req.version + "/query/" + cur.id + "-" + strconv.Itoa(end)
	}
	if mode == "duplicateIds" && len(page) > 0 {
		page = append(append([]record{}, page...), page[0])
	}
	opts := renderOpts{wrongTypes: mode == "wrongTypes", unknownPicklist: mode == "unknownPicklist"}

	b := make([]byte, 0, 512*len(page)+128)
	b = append(b, `{"totalSize":`...)
	if opts.wrongTypes {
		b = appendJSONString(b, strconv.Itoa(len(rows)))
	} else {
		b = strconv.AppendInt(b, int64(len(rows)), 10)
	}
	b = append(b, `,"done":`...)
	b = strconv.AppendBool(b, done)
	if next != "" {
		b = append(b, `,"nextRecordsUrl":`...)
		b = appendJSONString(b, next)
	}
	b = append(b, `,"records":[`...)
	s.mu.RLock()
	for i, r := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.sel.appendRecord(b, s.st, r, req.version, opts)
	}
	s.mu.RUnlock()
	b = append(b, "]}"...)

	switch mode {
	case "invalidJSON":
		b = append(b[:len(b)/2], `,,{"records":[`...)
	case "hugeBody":
		n := req.faults.hugeBytes
		if n <= 0 {
			n = 64 << 20
		}
		b = append(b[:len(b)-1], `,"padding":"`...)
		b = append(b, bytes.Repeat([]byte("x"), n)...)
		b = append(b, `"}`...)
	}
	writeRaw(w, http.StatusOK, b)
}

// appendRecord renders a record with the selected fields, nesting parent relationships.
func (n *selNode) appendRecord(b []byte, st *store, r record, version string, opts renderOpts) []byte {
	b = appendAttributes(b, n.obj, r, version)
	for _, k := range n.kids {
		b = append(b, ',')
		b = appendJSONString(b, k.name)
		b = append(b, ':')
		if k.rel != nil {
			var parent record
			if k.rel.parent != nil {
				parent = k.rel.parent(st, r)
			}
			if parent == nil {
				b = append(b, "null"...)
			} else {
				b = k.appendRecord(b, st, parent, version, opts)
			}
			continue
		}
		b = appendValue(b, k.field, k.field.get(st, r), opts)
	}
	return append(b, '}')
}

func appendAttributes(b []byte, obj *objectDef, r record, version string) []byte {
	b = append(b, `{"attributes":{"type":`...)
	b = appendJSONString(b, obj.name)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, "/services/data/v"+version+"/sobjects/"+obj.name+"/"+r.recID())
	return append(b, '}')
}

func appendValue(b []byte, f *fieldDef, v val, opts renderOpts) []byte {
	switch {
	case opts.wrongTypes && (v.K == kNumber || v.K == kBool):
		return appendJSONString(b, v.text())
	case opts.unknownPicklist && f.typ == "picklist" && v.K == kString:
		return appendJSONString(b, "Pending Review")
	}
	return v.appendJSON(b)
}
