package decide

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/engine"
)

func TestCorrections(t *testing.T) {
	synced := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	dana := engine.FieldChange{By: "Dana Admin", Username: "dana@acme.example", At: synced.Add(time.Hour)}
	before := engine.FieldChange{By: "Dana Admin", Username: "dana@acme.example", At: synced.Add(-time.Hour)}
	seats := engine.FieldWrite{Field: "seats", Old: "130", New: "120", Replaces: dana}
	cases := []struct {
		name     string
		changes  []engine.FieldWrite
		syncedAt time.Time
		want     []engine.FieldWrite
	}{
		{"a field a person changed after the License last matched its spec is put back", []engine.FieldWrite{seats}, synced, []engine.FieldWrite{seats}},
		{"a field whose value was set before the License last matched is a spec change, not a correction",
			[]engine.FieldWrite{{Field: "seats", Old: "120", New: "150", Replaces: before}}, synced, nil},
		{"a change stamped in the second of the last sync is a correction: Salesforce stamps whole seconds and status.lastSyncTime keeps seconds",
			[]engine.FieldWrite{{Field: "seats", Old: "130", New: "120", Replaces: engine.FieldChange{By: "Dana Admin", Username: "dana@acme.example", At: synced}}}, synced,
			[]engine.FieldWrite{{Field: "seats", Old: "130", New: "120", Replaces: engine.FieldChange{By: "Dana Admin", Username: "dana@acme.example", At: synced}}}},
		{"a field with no known author (set by the install) is not a correction",
			[]engine.FieldWrite{{Field: "seats", Old: "10", New: "120"}}, synced, nil},
		{"a License that never matched its spec corrects nothing: the first write adopts the record",
			[]engine.FieldWrite{seats}, time.Time{}, nil},
		{"of a write that also carries a spec change, only the person's field is a correction",
			[]engine.FieldWrite{{Field: "expiration", Old: "2027-01-31", New: "2027-06-30", Replaces: before}, seats}, synced, []engine.FieldWrite{seats}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, Corrections(c.changes, c.syncedAt)); diff != "" {
				t.Errorf("Corrections (-want +got):\n%s", diff)
			}
		})
	}
}
