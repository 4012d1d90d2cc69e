package lmosim

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune a Server beyond its seed.
type Options struct {
	// TokenLifetime is how long access tokens stay valid; 0 takes the seed's tokenLifetime, else 2h.
	TokenLifetime time.Duration
	// StatePath, when set, is loaded at start if it exists and saved (atomically, at most about once
	// a second) after changes and on Close, so the org survives restarts.
	StatePath string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is a simulated License Management Org speaking Salesforce's REST wire format.
type Server struct {
	now           func() time.Time
	tokenLifetime time.Duration
	lmaInstalled  bool
	fmaInstalled  bool
	apiMax        int64
	apiUsed       atomic.Int64
	appMax        int64
	appUsed       atomic.Int64
	appName       string
	siteURLs      []string
	// historyTracking is false when the License object's field history tracking is off.
	historyTracking bool

	signKey []byte

	mu sync.RWMutex // guards st
	st *store

	auth    authState
	faults  faultSet
	cursors cursorSet
	stats   statsSet
	saver   *saver

	srvMu   sync.Mutex
	httpSrv *http.Server
	baseURL string
}

// New builds a server from a seed (nil means an empty org) and options.
func New(seed *Seed, opts Options) (*Server, error) {
	if seed == nil {
		seed = &Seed{}
	}
	s := &Server{now: opts.Now, lmaInstalled: true, fmaInstalled: true, apiMax: seed.APIDailyLimit,
		appMax: seed.PerAppAPILimit, appName: seed.ConnectedAppName}
	s.historyTracking = seed.HistoryTracking == nil || *seed.HistoryTracking
	for _, u := range seed.Organization.SiteURLs {
		s.siteURLs = append(s.siteURLs, strings.TrimSuffix(u, "/"))
	}
	if s.appName == "" {
		s.appName = "lmo-operator"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if seed.LMAInstalled != nil {
		s.lmaInstalled = *seed.LMAInstalled
	}
	if seed.FMAInstalled != nil {
		s.fmaInstalled = *seed.FMAInstalled
	}
	if s.apiMax == 0 {
		s.apiMax = defaultDailyLimit
	}
	s.tokenLifetime = opts.TokenLifetime
	if s.tokenLifetime == 0 {
		s.tokenLifetime = seed.TokenLifetime.Duration
	}
	if s.tokenLifetime == 0 {
		s.tokenLifetime = 2 * time.Hour
	}
	s.signKey = make([]byte, 32)
	if _, err := rand.Read(s.signKey); err != nil {
		return nil, err
	}
	var st *store
	if opts.StatePath != "" {
		loaded, used, err := loadState(opts.StatePath)
		if err != nil {
			return nil, err
		}
		if loaded != nil {
			st = loaded
			s.apiUsed.Store(used)
		}
	}
	if st == nil {
		var err error
		if st, err = buildStore(seed, s.now()); err != nil {
			return nil, err
		}
	}
	st.strict = seed.StrictLicenseRules
	st.recordTypes = seed.RecordTypes == nil || *seed.RecordTypes
	st.keepRecordType = seed.APIWritesKeepRecordType
	st.licenseTypeField = seed.LicenseTypeField == nil || *seed.LicenseTypeField
	st.orgStatusFields = seed.OrgStatusFields == nil || *seed.OrgStatusFields
	st.readOnly = map[string]bool{}
	for _, f := range seed.ReadOnlyFields {
		st.readOnly[f] = true
	}
	s.st = st
	if err := s.auth.init(seed, st, s.now); err != nil {
		return nil, err
	}
	s.faults.init()
	s.cursors.init()
	s.stats.init()
	if opts.StatePath != "" {
		s.saver = newSaver(opts.StatePath, s.snapshotState)
	}
	return s, nil
}

// Handler is the server's HTTP handler, for httptest or a custom listener.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr (for example "127.0.0.1:0"), serves in the background and returns the base
// URL, such as "http://127.0.0.1:43123".
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.srvMu.Lock()
	s.httpSrv = srv
	s.baseURL = "http://" + ln.Addr().String()
	base := s.baseURL
	s.srvMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return base, nil
}

// Close stops serving (if Start was called) and saves the state file (if any).
func (s *Server) Close() error {
	s.srvMu.Lock()
	srv := s.httpSrv
	s.httpSrv = nil
	s.srvMu.Unlock()
	var errs []error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, srv.Close())
		}
		cancel()
	}
	if s.saver != nil {
		errs = append(errs, s.saver.close())
	}
	return errors.Join(errs...)
}

// changed tells the state saver that the store was modified.
func (s *Server) changed() {
	if s.saver != nil {
		s.saver.poke()
	}
}

func (s *Server) installed(pkg string) bool {
	switch pkg {
	case "lma":
		return s.lmaInstalled
	case "fma":
		return s.fmaInstalled
	case "lmaHistory":
		// A History object exists only while field history tracking is on for its object.
		return s.lmaInstalled && s.historyTracking
	case "recordTypes":
		// RecordTypeId exists only on an object that has record types.
		return s.st.recordTypes
	case "licenseType":
		return s.st.licenseTypeField
	case "orgStatus":
		return s.st.orgStatusFields
	}
	return true
}

// baseURLFor is the URL clients reach this server at, from the request.
func (s *Server) baseURLFor(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// usageHeader is the Sforce-Limit-Info value. Salesforce separates its parts with "; " (REST API
// Developer Guide, "Limit Info Header"); the per-app part follows when the app has an allocation.
func (s *Server) usageHeader() string {
	h := fmt.Sprintf("api-usage=%d/%d", s.apiUsed.Load(), s.apiMax)
	if s.appMax > 0 {
		h += fmt.Sprintf("; per-app-api-usage=%d/%d(appName=%s)", s.appUsed.Load(), s.appMax, s.appName)
	}
	return h
}

// consumeAPICall counts one call toward the daily limit, or reports that the limit is reached.
func (s *Server) consumeAPICall() bool {
	for {
		used := s.apiUsed.Load()
		if used >= s.apiMax {
			return false
		}
		if s.apiUsed.CompareAndSwap(used, used+1) {
			s.appUsed.Add(1)
			return true
		}
	}
}

// limitWriter adds the Sforce-Limit-Info header to every response.
type limitWriter struct {
	http.ResponseWriter
	s     *Server
	wrote bool
}

func (w *limitWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Set("Sforce-Limit-Info", w.s.usageHeader())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *limitWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *limitWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiError is one entry of Salesforce's REST error array.
type apiError struct {
	Message   string
	ErrorCode string
	Fields    []string // nil: no "fields" key
}

// MarshalJSON writes {"message","errorCode"[,"fields"]}.
func (e apiError) MarshalJSON() ([]byte, error) {
	m := struct {
		Message   string   `json:"message"`
		ErrorCode string   `json:"errorCode"`
		Fields    []string `json:"fields,omitempty"`
	}{e.Message, e.ErrorCode, e.Fields}
	if e.Fields != nil && len(e.Fields) == 0 {
		return []byte(fmt.Sprintf(`{"message":%s,"errorCode":%s,"fields":[]}`, jsonString(e.Message), jsonString(e.ErrorCode))), nil
	}
	return json.Marshal(m)
}

func jsonString(s string) string { return string(appendJSONString(nil, s)) }

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields ...string) {
	e := apiError{Message: msg, ErrorCode: code}
	if fields != nil {
		e.Fields = fields
	}
	writeJSON(w, status, []apiError{e})
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

var reVersionPath = regexp.MustCompile(`^/services/data/v(\d+\.\d)(/.*)?$`)

const (
	minVersion = 50
	maxVersion = 66
)

// operation kinds, as counted in stats and named in faults.
const (
	opToken            = "token"
	opQuery            = "query"
	opQueryMore        = "queryMore"
	opRowGet           = "rowGet"
	opRowPatch         = "rowPatch"
	opCollectionsPatch = "collectionsPatch"
	opDescribe         = "describe"
	opLimits           = "limits"
	opVersions         = "versions"
	opComposite        = "composite"
	opOther            = "other"
)

var operations = []string{opToken, opQuery, opQueryMore, opRowGet, opRowPatch, opCollectionsPatch, opComposite, opDescribe, opLimits, opVersions, opOther}

// classify names the operation of a request under /services/data/vNN.N.
func classify(method, rest string) string {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case (parts[0] == "query" || parts[0] == "queryAll") && len(parts) == 1:
		return opQuery
	case (parts[0] == "query" || parts[0] == "queryAll") && len(parts) == 2:
		return opQueryMore
	case parts[0] == "limits" && len(parts) == 1:
		return opLimits
	case parts[0] == "composite" && len(parts) == 2 && parts[1] == "sobjects" && method == http.MethodPatch:
		return opCollectionsPatch
	case parts[0] == "composite" && len(parts) == 1 && method == http.MethodPost:
		return opComposite
	case parts[0] == "sobjects" && (len(parts) == 1 || len(parts) == 2 || len(parts) == 3 && parts[2] == "describe"):
		return opDescribe
	case parts[0] == "sobjects" && len(parts) == 3 && method == http.MethodGet:
		return opRowGet
	case parts[0] == "sobjects" && len(parts) == 3 && method == http.MethodPatch:
		return opRowPatch
	}
	return opOther
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/__sim/") {
		s.serveAdmin(w, r)
		return
	}
	// The Date header comes from the org's clock, the one SystemModstamp is stamped with: clients
	// use it to place their poll watermarks.
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	lw := &limitWriter{ResponseWriter: w, s: s}
	if r.Header.Get("Content-Encoding") == "gzip" && r.Body != nil {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(lw, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body is not valid gzip")
			return
		}
		r.Body = zr
	}
	switch p := r.URL.Path; {
	case p == "/services/oauth2/token":
		s.stats.count(opToken)
		s.serveToken(lw, r)
	case p == "/services/data" || p == "/services/data/":
		s.stats.count(opVersions)
		s.serveVersions(lw, r)
	case reVersionPath.MatchString(p):
		m := reVersionPath.FindStringSubmatch(p)
		s.serveData(lw, r, m[1], m[2])
	default:
		s.stats.count(opOther)
		notFound(lw)
	}
}

func (s *Server) serveVersions(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.fireFaults(w, r, opVersions); !ok {
		return
	}
	type version struct {
		Label   string `json:"label"`
		URL     string `json:"url"`
		Version string `json:"version"`
	}
	var out []version
	for v := minVersion; v <= maxVersion; v++ {
		i := v - minVersion
		label := fmt.Sprintf("%s '%02d", []string{"Winter", "Spring", "Summer"}[i%3], 21+i/3)
		ver := fmt.Sprintf("%d.0", v)
		out = append(out, version{Label: label, URL: "/services/data/v" + ver, Version: ver})
	}
	writeJSON(w, http.StatusOK, out)
}

// request carries what the data handlers need besides the HTTP request.
type request struct {
	version string // "62.0"
	session *session
	faults  firedFaults
}

func (s *Server) serveData(w http.ResponseWriter, r *http.Request, version, rest string) {
	op := classify(r.Method, rest)
	s.stats.count(op)
	v, err := strconv.ParseFloat(version, 64)
	if err != nil || v < minVersion || v > maxVersion || !strings.HasSuffix(version, ".0") {
		notFound(w)
		return
	}
	sess := s.auth.session(r, s.now(), s.faults.tokenMaxAge(s.now()))
	if sess == nil {
		writeError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	fired, ok := s.fireFaults(w, r, op)
	if !ok {
		return
	}
	if !s.consumeAPICall() {
		writeError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return
	}
	req := &request{version: version, session: sess, faults: fired}
	if op == opComposite {
		s.serveComposite(w, r, req)
		return
	}
	s.dispatch(w, r, req, op, rest)
}

// dispatch serves an authenticated, counted call (or a Composite subrequest) of kind op; rest is
// the path after /services/data/vNN.N.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, req *request, op, rest string) {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch op {
	case opQuery:
		s.serveQuery(w, r, req)
	case opQueryMore:
		s.serveQueryMore(w, r, req, parts[1])
	case opLimits:
		s.serveLimits(w, r)
	case opCollectionsPatch:
		s.serveCollections(w, r, req)
	case opDescribe:
		switch len(parts) {
		case 1:
			s.serveGlobalDescribe(w, r, req)
		case 2:
			s.serveObjectInfo(w, r, req, parts[1])
		default:
			s.serveDescribe(w, r, req, parts[1])
		}
	case opRowGet:
		s.serveRowGet(w, r, req, parts[1], parts[2])
	case opRowPatch:
		s.serveRowPatch(w, r, req, parts[1], parts[2])
	default:
		if rest == "" || rest == "/" {
			s.serveResources(w, req)
			return
		}
		if parts[0] == "sobjects" || parts[0] == "composite" {
			writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("HTTP Method '%s' not allowed", r.Method))
			return
		}
		notFound(w)
	}
}

func (s *Server) serveResources(w http.ResponseWriter, req *request) {
	base := "/services/data/v" + req.version
	writeJSON(w, http.StatusOK, map[string]string{
		"limits": base + "/limits", "query": base + "/query", "queryAll": base + "/queryAll",
		"sobjects": base + "/sobjects", "composite": base + "/composite",
	})
}

func (s *Server) serveLimits(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+r.Method+"' not allowed. Allowed are GET")
		return
	}
	type limit struct {
		Max       int64 `json:"Max"`
		Remaining int64 `json:"Remaining"`
	}
	used := s.apiUsed.Load()
	writeJSON(w, http.StatusOK, map[string]limit{
		"DailyApiRequests":         {Max: s.apiMax, Remaining: max(0, s.apiMax-used)},
		"DailyBulkApiBatches":      {Max: 15000, Remaining: 15000},
		"DailyAsyncApexExecutions": {Max: 250000, Remaining: 250000},
	})
}
