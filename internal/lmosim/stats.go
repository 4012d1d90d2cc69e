package lmosim

import "sync"

// statsSet counts the calls served by kind, and the records written.
type statsSet struct {
	mu             sync.Mutex
	calls          map[string]int64
	recordsWritten int64
}

// Stats is the answer of GET /__sim/stats.
type Stats struct {
	// Calls counts every request by operation kind, failed ones included.
	Calls map[string]int64 `json:"calls"`
	// RecordsWritten counts records changed through the REST API.
	RecordsWritten int64 `json:"recordsWritten"`
}

func (ss *statsSet) init() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.calls = map[string]int64{}
	for _, op := range operations {
		ss.calls[op] = 0
	}
	ss.recordsWritten = 0
}

func (ss *statsSet) count(op string) {
	ss.mu.Lock()
	ss.calls[op]++
	ss.mu.Unlock()
}

func (ss *statsSet) written(n int) {
	ss.mu.Lock()
	ss.recordsWritten += int64(n)
	ss.mu.Unlock()
}

// Stats returns the call counters, as GET /__sim/stats does.
func (s *Server) Stats() Stats {
	ss := &s.stats
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := Stats{Calls: map[string]int64{}, RecordsWritten: ss.recordsWritten}
	for k, v := range ss.calls {
		out.Calls[k] = v
	}
	return out
}
