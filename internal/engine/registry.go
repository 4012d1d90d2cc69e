package engine

import (
	"context"
	"sync"
)

// Registry runs one engine per LicenseManagementOrg, keyed by "namespace/name". Engines are
// independent: one LMO's failures never slow another. No method waits while holding the registry's
// lock, so an engine's callbacks may call back into the registry at any time.
type Registry struct {
	mu      sync.Mutex
	ctx     context.Context
	engines map[string]*running
}

type running struct {
	engine *Engine
	hash   string
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRegistry returns a registry whose engines stop when ctx ends.
func NewRegistry(ctx context.Context) *Registry {
	return &Registry{ctx: ctx, engines: map[string]*running{}}
}

// Ensure runs an engine for key with cfg: it starts one if none runs, and replaces it when the
// config (spec or credentials) changed. It reports whether a new engine started. A replaced engine
// is stopped first: the new one begins only once the old one has returned, so two engines never
// write to the same LMO; Ensure itself does not wait.
func (r *Registry) Ensure(key string, cfg Config) (*Engine, bool) {
	hash := cfg.Hash()
	r.mu.Lock()
	defer r.mu.Unlock()
	var prev *running
	if cur, ok := r.engines[key]; ok {
		if cur.hash == hash {
			return cur.engine, false
		}
		cur.cancel()
		prev = cur
	}
	ctx, cancel := context.WithCancel(r.ctx)
	e := New(cfg)
	run := &running{engine: e, hash: hash, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(run.done)
		if prev != nil {
			<-prev.done
		}
		e.Run(ctx)
	}()
	r.engines[key] = run
	return e, true
}

// Get returns the engine of key, if one runs.
func (r *Registry) Get(key string) (LMO, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.engines[key]; ok {
		return cur.engine, true
	}
	return nil, false
}

// Stop stops the engine of key and waits for it.
func (r *Registry) Stop(key string) {
	r.mu.Lock()
	cur, ok := r.engines[key]
	delete(r.engines, key)
	r.mu.Unlock()
	if ok {
		cur.cancel()
		<-cur.done
	}
}
