package lmosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const stateFormat = 1

// stateFile is the persisted org: every record, the counters that keep ids unique, and the latest
// stamp handed out, below which no new stamp goes.
type stateFile struct {
	Format    int               `json:"format"`
	APIUsed   int64             `json:"apiUsed"`
	Org       *orgRec           `json:"organization"`
	Users     []*userRec        `json:"users"`
	Packages  []*packageRec     `json:"packages"`
	Versions  []*versionRec     `json:"versions"`
	Params    []*paramRec       `json:"featureParameters"`
	Licenses  []*licenseRec     `json:"licenses"`
	Accounts  []*accountRec     `json:"accounts,omitempty"`
	Leads     []*leadRec        `json:"leads,omitempty"`
	Values    []*valueRec       `json:"values"`
	History   []*historyRec     `json:"history"`
	IDSeq     map[string]uint64 `json:"idSeq"`
	NameSeq   int               `json:"nameSeq"`
	LastStamp int64             `json:"lastStamp"`
}

// snapshotState serializes the store.
func (s *Server) snapshotState() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.st
	f := stateFile{Format: stateFormat, APIUsed: s.apiUsed.Load(), Org: st.org, Users: st.users, Packages: st.packages,
		Versions: st.versions, Params: st.params, Licenses: st.licenses, History: st.history, Accounts: st.accounts, Leads: st.leads, IDSeq: st.idSeq,
		NameSeq: st.nameSeq, LastStamp: st.lastStamp}
	for _, t := range []string{"Boolean", "Integer", "Date"} {
		f.Values = append(f.Values, st.values[t]...)
	}
	return json.Marshal(&f)
}

// loadState reads a state file; a missing file gives a nil store and no error.
func loadState(path string) (*store, int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, 0, fmt.Errorf("reading state %s: %w", path, err)
	}
	if f.Format != stateFormat || f.Org == nil {
		return nil, 0, fmt.Errorf("reading state %s: not an lmosim state file of format %d", path, stateFormat)
	}
	st := newStore()
	st.org = f.Org
	st.add(f.Org)
	for _, u := range f.Users {
		st.users = append(st.users, u)
		st.add(u)
	}
	for _, p := range f.Packages {
		st.packages = append(st.packages, p)
		st.add(p)
	}
	for _, v := range f.Versions {
		st.versions = append(st.versions, v)
		st.add(v)
	}
	for _, p := range f.Params {
		st.params = append(st.params, p)
		st.add(p)
	}
	for _, a := range f.Accounts {
		st.accounts = append(st.accounts, a)
		st.add(a)
	}
	for _, l := range f.Leads {
		st.addLead(l)
	}
	for _, l := range f.Licenses {
		st.addLicense(l)
	}
	for _, v := range f.Values {
		st.addValue(v)
	}
	for _, h := range f.History {
		st.history = append(st.history, h)
		st.observe(h.Modstamp)
	}
	if f.IDSeq != nil {
		st.idSeq = f.IDSeq
	}
	st.nameSeq = f.NameSeq
	st.observe(f.LastStamp)
	return st, f.APIUsed, nil
}

// saver writes the state file in the background, at most about once a second.
type saver struct {
	path    string
	snap    func() ([]byte, error)
	pokes   chan struct{}
	done    chan struct{}
	stopped chan struct{}
	mu      sync.Mutex // serializes writes
	once    sync.Once
	lastErr error
}

func newSaver(path string, snap func() ([]byte, error)) *saver {
	sv := &saver{path: path, snap: snap, pokes: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go sv.loop()
	return sv
}

func (sv *saver) poke() {
	select {
	case sv.pokes <- struct{}{}:
	default:
	}
}

func (sv *saver) loop() {
	defer close(sv.stopped)
	for {
		select {
		case <-sv.done:
			return
		case <-sv.pokes:
			_ = sv.save()
			select {
			case <-sv.done:
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// save writes the state atomically: a temporary file in the same directory, then a rename.
func (sv *saver) save() error {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	data, err := sv.snap()
	if err == nil {
		err = writeFileAtomic(sv.path, data)
	}
	sv.lastErr = err
	return err
}

func (sv *saver) close() error {
	var err error
	sv.once.Do(func() {
		close(sv.done)
		<-sv.stopped
		err = sv.save()
	})
	return err
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	// After the rename there is nothing left to remove; before it, a leftover temporary file is only
	// litter, and the error that stopped the write is the one to report.
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
