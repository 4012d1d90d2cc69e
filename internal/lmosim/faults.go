package lmosim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Fault is one injected misbehaviour, as posted to /__sim/faults. See the package documentation
// for the meaning of each field.
type Fault struct {
	// Operation is the kind of call affected: token, query, queryMore, rowGet, rowPatch,
	// collectionsPatch, composite, describe, limits, versions, other, or * for all.
	Operation string `json:"operation,omitempty"`
	// LatencyMs delays the response.
	LatencyMs int `json:"latencyMs,omitempty"`
	// Status, ErrorCode and Message answer with that status and a Salesforce error array.
	Status    int    `json:"status,omitempty"`
	ErrorCode string `json:"errorCode,omitempty"`
	Message   string `json:"message,omitempty"`
	// LockRowShare is the share (0..1) of records of each Collections batch that fail with
	// UNABLE_TO_LOCK_ROW.
	LockRowShare float64 `json:"lockRowShare,omitempty"`
	// LimitExceeded answers 403 REQUEST_LIMIT_EXCEEDED for the spent daily allocation
	// ("TotalRequests Limit exceeded.").
	LimitExceeded bool `json:"limitExceeded,omitempty"`
	// ConcurrentLimit answers 403 REQUEST_LIMIT_EXCEEDED for too many long-running requests at once
	// ("ConcurrentRequests (Concurrent API Requests) Limit exceeded."): the same code as the daily
	// limit, told apart by the message, and over as soon as running calls finish.
	ConcurrentLimit bool `json:"concurrentLimit,omitempty"`
	// ExpireTokensEvery makes every token expire once it is this old ("20s").
	ExpireTokensEvery string `json:"expireTokensEvery,omitempty"`
	// ExpireTokensNow expires every token issued so far, once.
	ExpireTokensNow bool `json:"expireTokensNow,omitempty"`
	// DropConnection closes the connection in the middle of the response.
	DropConnection bool `json:"dropConnection,omitempty"`
	// Corrupt makes query pages hostile: invalidJSON, wrongTypes, hugeBody, endlessPaging,
	// duplicateIds or unknownPicklist.
	Corrupt string `json:"corrupt,omitempty"`
	// CommitDelayMs makes the writes of a matching call (rowPatch, collectionsPatch, a composite's
	// row PATCHes) commit late: each changed record carries the SystemModstamp (and history rows the
	// CreatedDate) of when its transaction began, that many milliseconds before it committed and
	// became visible, as a long transaction does in Salesforce. A poll may thus find a record stamped
	// before the newest stamp it has already seen.
	CommitDelayMs int `json:"commitDelayMs,omitempty"`
	// HugeBodyBytes is the size of a hugeBody answer (default 64 MiB).
	HugeBodyBytes int `json:"hugeBodyBytes,omitempty"`
	// Probability (0..1] that the fault fires on a matching call; 0 means always.
	Probability float64 `json:"probability,omitempty"`
	// DurationSeconds removes the fault after that long; 0 means until cleared.
	DurationSeconds float64 `json:"durationSeconds,omitempty"`
	// Count removes the fault after it fired that many times; 0 means no limit.
	Count int `json:"count,omitempty"`
	// Seed seeds the random choices of this fault (probability, which records fail to lock).
	Seed uint64 `json:"seed,omitempty"`
}

var corruptModes = map[string]bool{"invalidJSON": true, "wrongTypes": true, "hugeBody": true, "endlessPaging": true,
	"duplicateIds": true, "unknownPicklist": true}

func (f *Fault) validate() error {
	if f.ExpireTokensEvery != "" {
		d, err := time.ParseDuration(f.ExpireTokensEvery)
		if err != nil || d <= 0 {
			return fmt.Errorf("expireTokensEvery %q is not a positive duration", f.ExpireTokensEvery)
		}
	}
	if f.ExpireTokensNow || f.ExpireTokensEvery != "" {
		return nil
	}
	if f.Operation == "" {
		return fmt.Errorf("operation is required (one of %v or *)", operations)
	}
	known := f.Operation == "*"
	for _, op := range operations {
		known = known || op == f.Operation
	}
	if !known {
		return fmt.Errorf("operation %q is not one of %v or *", f.Operation, operations)
	}
	if f.Corrupt != "" && !corruptModes[f.Corrupt] {
		return fmt.Errorf("corrupt %q is not one of invalidJSON, wrongTypes, hugeBody, endlessPaging, duplicateIds, unknownPicklist", f.Corrupt)
	}
	if f.Probability < 0 || f.Probability > 1 || f.LockRowShare < 0 || f.LockRowShare > 1 {
		return fmt.Errorf("probability and lockRowShare must be within 0..1")
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return fmt.Errorf("status %d is not an HTTP error status", f.Status)
	}
	if f.LatencyMs < 0 || f.Count < 0 || f.DurationSeconds < 0 || f.CommitDelayMs < 0 {
		return fmt.Errorf("latencyMs, commitDelayMs, count and durationSeconds must not be negative")
	}
	if f.LatencyMs == 0 && f.Status == 0 && f.LockRowShare == 0 && !f.LimitExceeded && !f.ConcurrentLimit && !f.DropConnection && f.Corrupt == "" && f.CommitDelayMs == 0 {
		return fmt.Errorf("the fault does nothing: give latencyMs, status, lockRowShare, limitExceeded, concurrentLimit, dropConnection, corrupt or commitDelayMs")
	}
	return nil
}

type activeFault struct {
	Fault
	until     time.Time // zero: no deadline
	remaining int       // with Count
	rng       *rand.Rand
}

// faultSet holds the active faults.
type faultSet struct {
	mu         sync.Mutex
	faults     []*activeFault
	maxAge     time.Duration
	tokenUntil time.Time
	seq        uint64
}

func (fs *faultSet) init() {}

// firedFaults is what the faults decided for one call.
type firedFaults struct {
	latency      time.Duration
	status       int
	errorCode    string
	message      string
	limit        bool
	concurrent   bool
	drop         bool
	corrupt      string
	hugeBytes    int
	lockRowShare float64
	lockRng      *rand.Rand
	// commitDelay is how long before their commit the call's writes began (Fault.CommitDelayMs).
	commitDelay time.Duration
}

// add activates a fault.
func (s *Server) addFault(f Fault, now time.Time) error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.ExpireTokensNow {
		s.auth.revokeAll(now)
	}
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.ExpireTokensEvery != "" {
		fs.maxAge, _ = time.ParseDuration(f.ExpireTokensEvery)
		fs.tokenUntil = time.Time{}
		if f.DurationSeconds > 0 {
			fs.tokenUntil = now.Add(time.Duration(f.DurationSeconds * float64(time.Second)))
		}
	}
	if f.Operation == "" {
		return nil
	}
	fs.seq++
	seed := f.Seed
	if seed == 0 {
		seed = fs.seq
	}
	a := &activeFault{Fault: f, remaining: f.Count, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	if f.DurationSeconds > 0 {
		a.until = now.Add(time.Duration(f.DurationSeconds * float64(time.Second)))
	}
	fs.faults = append(fs.faults, a)
	return nil
}

// clearFaults removes every fault.
func (s *Server) clearFaults() {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults = nil
	fs.maxAge = 0
}

// listFaults returns the active faults.
func (s *Server) listFaults() []Fault {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := []Fault{}
	for _, f := range fs.faults {
		out = append(out, f.Fault)
	}
	return out
}

// tokenMaxAge is the active expireTokensEvery interval, or 0.
func (fs *faultSet) tokenMaxAge(now time.Time) time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.maxAge > 0 && !fs.tokenUntil.IsZero() && !now.Before(fs.tokenUntil) {
		fs.maxAge = 0
	}
	return fs.maxAge
}

// pick decides which faults fire for one call of an operation.
func (fs *faultSet) pick(op string, now time.Time) firedFaults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out firedFaults
	kept := fs.faults[:0]
	for _, f := range fs.faults {
		if !f.until.IsZero() && !now.Before(f.until) {
			continue
		}
		fires := (f.Operation == "*" || f.Operation == op) &&
			(f.Probability == 0 || f.rng.Float64() < f.Probability)
		if fires {
			out.latency += time.Duration(f.LatencyMs) * time.Millisecond
			if f.Status != 0 && out.status == 0 {
				out.status, out.errorCode, out.message = f.Status, f.ErrorCode, f.Message
			}
			out.limit = out.limit || f.LimitExceeded
			out.concurrent = out.concurrent || f.ConcurrentLimit
			out.drop = out.drop || f.DropConnection
			if f.Corrupt != "" && out.corrupt == "" {
				out.corrupt, out.hugeBytes = f.Corrupt, f.HugeBodyBytes
			}
			out.commitDelay = max(out.commitDelay, time.Duration(f.CommitDelayMs)*time.Millisecond)
			if f.LockRowShare > 0 && out.lockRowShare == 0 {
				out.lockRowShare, out.lockRng = f.LockRowShare, rand.New(rand.NewPCG(f.rng.Uint64(), 1))
			}
			if f.Count > 0 {
				f.remaining--
				if f.remaining <= 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	for i := len(kept); i < len(fs.faults); i++ {
		fs.faults[i] = nil
	}
	fs.faults = kept
	return out
}

// fireFaults applies the faults of a call that answer by themselves (latency, dropped connection,
// limit, error status). It reports false when the response has been written.
func (s *Server) fireFaults(w http.ResponseWriter, r *http.Request, op string) (firedFaults, bool) {
	f := s.faults.pick(op, s.now())
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return f, false
		}
	}
	if f.drop {
		dropConnection(w)
		return f, false
	}
	if f.concurrent && !f.limit {
		const msg = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
		if op == opToken {
			oauthError(w, "invalid_grant", "REQUEST_LIMIT_EXCEEDED: "+msg)
		} else {
			writeError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", msg)
		}
		return f, false
	}
	if f.limit {
		if op == opToken {
			oauthError(w, "invalid_grant", "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.")
		} else {
			writeError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		}
		return f, false
	}
	if f.status != 0 {
		code, msg := f.errorCode, f.message
		if code == "" {
			code = map[bool]string{true: "SERVER_UNAVAILABLE", false: "UNKNOWN_EXCEPTION"}[f.status == http.StatusServiceUnavailable]
		}
		if msg == "" {
			msg = "Injected fault: " + http.StatusText(f.status)
		}
		if op == opToken {
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			w.WriteHeader(f.status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": msg})
		} else {
			writeError(w, f.status, code, msg)
		}
		return f, false
	}
	return f, true
}

// dropConnection writes the start of a response and closes the connection under it.
func dropConnection(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // not hijackable (HTTP/2): abort the stream instead
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: 4096\r\n\r\n{\"totalSize\":")
	_ = buf.Flush()
	_ = conn.Close()
}
