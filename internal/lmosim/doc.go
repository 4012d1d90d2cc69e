// Package lmosim is a stand-in for a Salesforce License Management Org (LMO): an HTTP server that
// speaks Salesforce's REST wire format for the License Management App (sfLma__*) and Feature
// Management App (sfFma__*) objects, so the operator's client and controllers can be tested with no
// Salesforce org. State is in memory (optionally persisted to a state file) and concurrency-safe.
//
// # Go API
//
//	seed, _ := lmosim.LoadSeed("config/samples/lmosim-seed.yaml")
//	srv, _ := lmosim.New(seed, lmosim.Options{})
//	base, _ := srv.Start("127.0.0.1:0") // "http://127.0.0.1:PORT"
//	defer srv.Close()
//
// Handler returns the http.Handler for httptest. Install, Upgrade, Uninstall, UpdateFromSubscriber,
// GetLicense, AddFault, ClearFaults, Stats, ResetStats and SetAPIUsage do what the admin API does.
//
// # REST surface
//
//   - POST /services/oauth2/token: client_credentials and JWT bearer (RS256; iss = clientID, sub =
//     the client's username, aud = this server's URL or https://login.salesforce.com or
//     https://test.salesforce.com, exp in the future and at most 3 minutes ahead; exp may be a
//     number or a numeric string). Errors are 400 {"error","error_description"}.
//   - GET /services/data: versions 50.0 to 66.0. Under /services/data/vNN.N: query and queryAll
//     (?q=, pages of 2,000 or Sforce-Query-Options: batchSize=200..2000, nextRecordsUrl
//     query/01g…-OFFSET), sobjects/TYPE/ID GET and PATCH (If-Unmodified-Since → 412
//     PRECONDITION_FAILED), composite/sobjects PATCH (≤200 records, allOrNone), composite POST (see
//     below), sobjects and sobjects/TYPE/describe, limits. Every response carries Sforce-Limit-Info;
//     every authenticated call under vNN.N counts toward apiDailyLimit and past it answers 403
//     REQUEST_LIMIT_EXCEEDED.
//   - SOQL subset: SELECT fields (parent relationships such as sfLma__Package__r.Name,
//     CreatedBy.Name, LastModifiedBy.Name, sfFma__FeatureParameter__r.sfFma__FullName__c, Parent.Name
//     on history) or COUNT(); FROM; WHERE with AND, OR, NOT, parentheses, = != <> < <= > >= [NOT] IN
//     LIKE, null, strings, numbers, booleans, unquoted dates and datetimes, TODAY, YESTERDAY,
//     TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n; ORDER BY … ASC|DESC NULLS FIRST|LAST; LIMIT; OFFSET.
//     History rows filter and sort on CreatedDate (WHERE CreatedDate > 2026-11-25T12:00:00Z ORDER BY
//     CreatedDate) and reach CreatedBy.Name and Parent.Name.
//     Text compares case-insensitively; ids compare on their 15-character form.
//
// # Composite (POST /services/data/vNN.N/composite)
//
//	{"allOrNone": false, "compositeRequest": [
//	  {"method": "GET", "url": "/services/data/v62.0/query/?q=SELECT+Id+FROM+sfLma__License__c", "referenceId": "licenses",
//	   "httpHeaders": {"Sforce-Query-Options": "batchSize=200"}},                   // httpHeaders optional
//	  {"method": "PATCH", "url": "/services/data/v62.0/sobjects/sfLma__License__c/a0N…", "referenceId": "seats",
//	   "body": {"sfLma__Seats__c": 120}}]}
//	→ 200 {"compositeResponse": [
//	  {"body": {"totalSize": 4, "done": true, "records": […]}, "httpHeaders": {}, "httpStatusCode": 200, "referenceId": "licenses"},
//	  {"body": null, "httpHeaders": {}, "httpStatusCode": 204, "referenceId": "seats"}]}
//
// Subrequests run in order through the ordinary handlers: query, queryAll, a nextRecordsUrl,
// sobjects/TYPE/ID GET and PATCH and limits (describe and composite/sobjects work too); each answers
// its normal body (null when there is none) or its error array with its normal status. httpHeaders
// in the answer is always {}. The whole call is ONE API call (usage +1, one "composite" in stats;
// subrequests are not counted as query, rowGet, … calls; recordsWritten still counts written
// records). Refused as a whole with 400: not JSON (JSON_PARSER_ERROR); more than 25 subrequests or
// more than 5 query, queryAll, query-locator and composite/sobjects subrequests (LIMIT_EXCEEDED —
// Salesforce documents the limits but not the code; this is a best guess); no subrequests, a
// missing, duplicate or malformed referenceId (".@{}[] " not allowed), an unknown method, a url not
// under /services/data/v, or composite/sobjects with allOrNone true (INVALID_API_INPUT). A url with
// an unsupported version answers that subrequest 404 NOT_FOUND; a nested composite 400
// INVALID_API_INPUT. With allOrNone true the first failing subrequest (status ≥ 400) stops the run,
// the row PATCHes before it are rolled back (fields and their history rows), and every other
// subrequest answers 400 [{"message":"The transaction was rolled back since another operation in
// the same transaction failed.","errorCode":"PROCESSING_HALTED"}]. References (@{ref.field}) are not
// resolved: they reach the handlers literally.
//
// Faults: a composite call fires the faults of "composite" and "*" once, as a whole (latency,
// status, limitExceeded, dropConnection). Faults of the subrequests' own kinds (a "query" fault, say)
// do not fire inside a composite: the call on the wire is a composite call, and a test that wants a
// failing subrequest can provoke a real one. A "composite" lockRowShare fails floor(n×share) of its
// row PATCH subrequests with 400 UNABLE_TO_LOCK_ROW; a "composite" corrupt mode applies to its query
// and query-locator subrequests' pages (invalidJSON thus makes the whole composite body unparseable).
//
// # LMA rules
//
// Writable: the license's sfLma__Status__c, sfLma__Seats__c, sfLma__Expiration__c and the
// sfFma__Value__c of LMO-to-Subscriber value records. Other existing fields answer
// INVALID_FIELD_FOR_INSERT_UPDATE, unknown ones INVALID_FIELD; seats other than -1 or 1..99,000,000
// NUMBER_OUTSIDE_VALID_RANGE (the field's own range); Subscriber-to-LMO values
// INSUFFICIENT_ACCESS_OR_READONLY.
//
// The rules the LMA documents for its Modify License page are not enforced on API writes by default:
// the page enforces them, the License object carries no validation rule for them and its Status
// picklist is unrestricted, so the API may accept what the page refuses. lmosim takes that worst case,
// so the operator's own guards are what the tests prove. With `strictLicenseRules: true` they hold: an
// Uninstalled license (and its value records) answers FIELD_CUSTOM_VALIDATION_EXCEPTION; Status
// Uninstalled or an unknown value INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST; a license that was ever
// Active going to Trial FIELD_CUSTOM_VALIDATION_EXCEPTION; a Trial (status or expiration being
// written) whose expiration is empty, 1970-01-01 or more than 90 days away
// FIELD_CUSTOM_VALIDATION_EXCEPTION.
// A value of the wrong JSON type is JSON_PARSER_ERROR on a row PATCH and INVALID_TYPE_ON_FIELD_IN_RECORD
// in a Collections call. Each changed license field adds a sfLma__License__History row by the calling
// client's user; LastModifiedBy/Date and SystemModstamp move. Like Salesforce, which stores datetimes
// to the second, every stamp (SystemModstamp, LastModifiedDate, CreatedDate, history CreatedDate) is
// a whole second (…:05.000+0000): several changes share one stamp, and a poller that asks only for
// SystemModstamp > the newest stamp it saw misses a change made later in that second. A record's
// stamps never decrease. With a commitDelayMs fault a write commits late and carries the stamp of
// when it began, so it can appear stamped before changes that were visible earlier. A write that
// changes nothing moves nothing (but counts in recordsWritten, which counts accepted records).
//
// Record types: the License object has Active, Trial, Suspended, Uninstalled and Expired (metadata
// names sfLma__Active, …; describe's recordTypeInfos, the RecordType object, RecordType.Name in
// SOQL). Each license gets the one named like its status; a status write moves it along unless
// `apiWritesKeepRecordType: true`; `recordTypes: false` is an object without them (no RecordTypeId).
// sfLma__License_Type__c is Text(255); a license whose type is not empty or Editable (Read-Only, as
// AppExchange Checkout's) takes API writes as a success that changes nothing, the silent worst case
// (FIELD_CUSTOM_VALIDATION_EXCEPTION with strictLicenseRules); `licenseTypeField: false` drops the field.
//
// # Seed file (YAML, unknown keys are errors)
//
//	organization: {id: 00D000000000001AAA, name: Acme ISV, edition: Enterprise Edition, isSandbox: false, trialExpiration: null, instanceName: USA123}
//	apiDailyLimit: 100000          # default 100000
//	perAppAPILimit: 0              # a connected-app allocation: adds per-app-api-usage to Sforce-Limit-Info
//	strictLicenseRules: false      # true: API writes obey the Modify License page's rules
//	tokenLifetime: 2h              # default 2h
//	lmaInstalled: true             # false: sfLma__* objects are absent (describe 404, query INVALID_TYPE)
//	fmaInstalled: true             # false: the same for sfFma__*
//	historyTracking: true          # false: field history tracking off, sfLma__License__History absent
//	readOnlyFields: []             # fields field-level security makes read-only, e.g. [sfLma__Seats__c]
//	recordTypes: true              # false: the License object has no record types (no RecordTypeId)
//	apiWritesKeepRecordType: false # true: an API status write leaves the record type as it is
//	licenseTypeField: true         # false: sfLma__License_Type__c is absent
//	orgStatusFields: true          # false: sfLma__Org_Status__c, sfLma__Trial_Expiration_Date__c (and the fields under them) are absent
//	clients:                       # each a separate API user
//	  - {clientID: lmo-operator, clientSecret: s3cret, username: integration@acme.example, name: Integration User, certificate: "PEM"}
//	packages:
//	  - packageID: 033000000000001AAA
//	    name: Acme App
//	    latestVersion: "1.4.0"
//	    developerOrgID: 00D…       # optional
//	    defaults: {status: Trial, trialDays: 30, activeDays: 0, seats: 10}  # seats -1 (or 0): site license; activeDays 0: no expiry
//	    featureParameters:
//	      - {fullName: acme__MaxProjects, dataType: Integer, direction: LMO to Subscriber}   # Boolean, Integer, Date
//	licenses:                      # only subscriberOrgID and packageID are required
//	  - {id: a0N000000000001AAA, subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Active, seats: 50,
//	     expiration: "2027-06-30", usedLicenses: 12, edition: Enterprise Edition, isSandbox: false, version: "1.4.0",
//	     installDate: "2026-01-15", orgInstance: USA42, lastModifiedBy: lmo-operator, featureParameters: {acme__MaxProjects: 20},
//	     recordType: Active, licenseType: Read-Only,   # recordType default: named like the status; none: no record type
//	     account: Globex Corporation,                  # an Account of that name (sfLma__Account__r.Name)
//	     lead: {company: Globex, name: A Person, email: a@globex.example},  # the install's Lead; default none
//	     orgStatus: ACTIVE, orgTrialExpiration: "2026-12-31"}  # text, as the LMA keeps them (DELETED, PENDING_DELETE, TRIAL, …)
//	generate:                      # deterministic fleets: same seed, same clock day → same licenses
//	  - {packageID: 033000000000001AAA, count: 100000, randomSeed: 0}
//
// Every license has one value record per feature parameter of its package (false, 0 or null unless
// given). Id prefixes: licenses a0N, packages a0P, versions a0V, feature parameters a0F, values
// a0B/a0I/a0D, users 005, history 017, leads 00Q, accounts 001. A built-in "License Manager" user creates records.
//
// # Admin API (/__sim/, JSON, no authentication, not counted as API calls)
//
// Without authentication, the admin API keeps web pages out instead: every request but GET and HEAD
// must carry Content-Type application/json (415 otherwise; a browser sends that cross-origin only
// after a CORS preflight, which lmosim never answers), and the Host header must be localhost or a
// loopback address (403 otherwise, against DNS rebinding). cmd/lmosim listens only on loopback
// unless --insecure-listen.
//
//	POST   /__sim/installs    {packageID, subscriberOrgID, edition, isSandbox, version?, company?, orgStatus?} → 201 License
//	POST   /__sim/upgrades    {licenseID, version} → License
//	POST   /__sim/uninstalls  {licenseID} → License
//	GET    /__sim/licenses/ID → License (featureParameterRecords names its value records' ids);
//	       PATCH it with {usedLicenses, featureParameters: {name: value}} to report subscriber-side
//	       values (as the License Manager user), or {licenseType, recordType, orgStatus,
//	       orgTrialExpiration, account} for Salesforce's own changes (AppExchange Checkout taking a
//	       license over; the LMA moving it to Expired; the subscriber org deleted; a lead converted)
//	POST   /__sim/faults {…}; GET /__sim/faults; DELETE /__sim/faults
//	GET    /__sim/stats → {"calls": {"token","query","queryMore","rowGet","rowPatch","collectionsPatch",
//	       "composite","describe","limits","versions","other"}, "recordsWritten"} (every kind, 0 included);
//	       POST /__sim/stats/reset
//	POST   /__sim/usage {used} sets the API usage counter
//
// # Faults
//
// Each fault names an operation (a stats kind or "*") and may carry "probability" (0..1, seeded by
// "seed" so runs repeat), "durationSeconds" and "count" (removed after firing that often):
//
//	{"operation":"query","latencyMs":3000}
//	{"operation":"*","status":503,"errorCode":"SERVER_UNAVAILABLE","message":"…","probability":0.3}
//	{"operation":"collectionsPatch","lockRowShare":0.5}   // floor(n×share) records of each batch, chosen
//	                                                      // at random, fail with UNABLE_TO_LOCK_ROW
//	                                                      // (on "composite": its row PATCH subrequests)
//	{"operation":"*","limitExceeded":true}                // 403 REQUEST_LIMIT_EXCEEDED
//	{"expireTokensEvery":"20s"}                           // tokens older than 20s are invalid (401)
//	{"expireTokensNow":true}                              // every token issued so far is invalid
//	{"operation":"query","dropConnection":true,"probability":0.5}  // headers and a partial body, then close
//	{"operation":"collectionsPatch","commitDelayMs":3000} // the writes commit 3s after they began and
//	                                                      // carry the stamp of when they began
//	                                                      // (rowPatch, collectionsPatch, composite)
//	{"operation":"query","corrupt":"…"}                   // hostile query and queryMore pages:
//
// corrupt modes: "invalidJSON" (200 with a truncated, unparseable body), "wrongTypes" (totalSize,
// numbers and booleans as strings), "hugeBody" (a valid page padded with a "padding" string of
// hugeBodyBytes, default 64 MiB), "endlessPaging" (done is always false and nextRecordsUrl wraps to
// the start forever), "duplicateIds" (the page's first record repeated at its end), "unknownPicklist"
// (every picklist value reads "Pending Review").
package lmosim
