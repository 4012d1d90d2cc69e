package engine

import "context"

// The steps of Run, one at a time, for the seeded simulation (simulation_test.go): it drives the
// engine from a schedule instead of timers, so a run replays exactly.

// StepConnect authenticates.
func (e *Engine) StepConnect(ctx context.Context) error { return e.connect(ctx) }

// StepLoad runs a full load.
func (e *Engine) StepLoad(ctx context.Context) error {
	_, err := e.fullLoad(ctx)
	return err
}

// StepPoll runs one incremental poll.
func (e *Engine) StepPoll(ctx context.Context) error {
	e.mu.Lock()
	fma := e.fma
	e.mu.Unlock()
	return e.poll(ctx, fma)
}

// StepFlush re-reads uncertain writes and sends one Collections call of ready writes; it returns the
// number of records sent.
func (e *Engine) StepFlush(ctx context.Context) (int, error) { return e.flush(ctx) }
