package decide

import (
	"time"

	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// Corrections returns the changes of a successful write that put back a field someone changed in
// the LMO after the License last matched its spec (syncedAt, status.lastSyncTime): the value the
// write replaced was set by a known user after that moment, so the spec did not ask for a new
// value; the record moved away from it. A License that never matched (syncedAt zero) corrects
// nothing: its first write adopts the record. The router names these in its DriftCorrected Event
// and the License controller in status.lastCorrection.
func Corrections(changes []engine.FieldWrite, syncedAt time.Time) []engine.FieldWrite {
	if syncedAt.IsZero() {
		return nil
	}
	var out []engine.FieldWrite
	for _, c := range changes {
		// At or after: Salesforce stamps whole seconds and status.lastSyncTime keeps seconds, so an
		// edit made in the second of the last sync carries that very time.
		if c.Replaces.By != "" && !c.Replaces.At.Before(syncedAt) {
			out = append(out, c)
		}
	}
	return out
}
