package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
)

// Salesforce sends Sforce-Limit-Info with its parts separated by semicolons, the connected app's own
// allocation after the org's (issue 12, point 2). The budget follows the tighter of the two.
func TestTheBudgetFollowsThePerAppAllocation(t *testing.T) {
	t.Parallel()
	seed := strings.Replace(simSeed, "apiDailyLimit: 1000", "apiDailyLimit: 100000\nperAppAPILimit: 250", 1)
	env := startSimSeedWith(t, seed, lmosim.Options{}, nil, func(c *Config) { c.ReservePercent = 20 })
	env.srv.SetAppAPIUsage(240)
	env.waitFor(5*time.Second, "a poll to report the per-app usage", func() (bool, string) {
		st := env.eng.Status()
		return st.UsageKnown && st.Usage.PerAppMax == 250 && st.Usage.PerAppUsed >= 240, ""
	})
	st := env.eng.Status()
	if st.Usage.Max != 100000 || st.Usage.AppName != "lmo-operator" {
		t.Errorf("Usage = %+v, want the org's 100000 and the app lmo-operator", st.Usage)
	}
	if !st.Budget.Low || !strings.Contains(st.Budget.Message, "connected app lmo-operator") {
		t.Errorf("Budget = %+v, want low, naming the connected app's allocation", st.Budget)
	}
}
