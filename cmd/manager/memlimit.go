package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
)

// memoryLimitEnv names the environment variable the Deployment fills with the container's memory
// limit in bytes (the downward API's resourceFieldRef limits.memory).
const memoryLimitEnv = "LMO_MEMORY_LIMIT"

// memoryLimit is the soft memory limit the Go runtime gets: ratio of the container's memory limit
// (memoryLimitEnv), so that the garbage collector works harder as the heap nears the limit instead
// of the kernel killing the container. GOMEMLIMIT in the environment wins, as do a ratio of 0 and a
// container without a limit (the downward API then gives the node's allocatable memory, which is
// still a bound). It returns the limit in bytes (0 for none) and what decided it.
func memoryLimit(getenv func(string) string, ratio float64) (int64, string, error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return 0, "GOMEMLIMIT=" + v + " (the Go runtime's own)", nil
	}
	if ratio < 0 || ratio > 1 {
		return 0, "", fmt.Errorf("--memory-limit-ratio %v: want a fraction between 0 and 1", ratio)
	}
	raw := strings.TrimSpace(getenv(memoryLimitEnv))
	if raw == "" || ratio == 0 {
		return 0, "none", nil
	}
	limit, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || limit <= 0 {
		return 0, "", fmt.Errorf("%s=%q: want the container's memory limit in bytes (resourceFieldRef limits.memory)", memoryLimitEnv, raw)
	}
	soft := int64(math.Floor(float64(limit) * ratio))
	return soft, fmt.Sprintf("%.0f%% of %s=%d", ratio*100, memoryLimitEnv, limit), nil
}

// gcPercent is the garbage collector's target the manager runs with: percent, unless GOGC in the
// environment sets one (then 0 and that says so). Most of the manager's memory is long-lived (the
// informer cache and the LMO mirror), so the default of 100 lets the heap reach twice that before a
// collection; a lower target trades some CPU for a smaller peak.
func gcPercent(getenv func(string) string, percent int) (int, string, error) {
	if v := getenv("GOGC"); v != "" {
		return 0, "GOGC=" + v + " (the Go runtime's own)", nil
	}
	if percent < 10 {
		return 0, "", fmt.Errorf("--gc-percent %d: want 10 or more", percent)
	}
	return percent, fmt.Sprintf("%d (--gc-percent)", percent), nil
}

// applyGCPercent sets the garbage collector's target as gcPercent decides.
func applyGCPercent(getenv func(string) string, percent int) (string, error) {
	p, why, err := gcPercent(getenv, percent)
	if err != nil || p == 0 {
		return why, err
	}
	debug.SetGCPercent(p)
	return why, nil
}

// applyMemorySettings sets the Go runtime's soft memory limit and garbage collector target from the
// flags and the environment, and logs what it set.
func applyMemorySettings(log logr.Logger, limitRatio float64, percent int) error {
	limit, err := applyMemoryLimit(os.Getenv, limitRatio)
	if err != nil {
		return err
	}
	gc, err := applyGCPercent(os.Getenv, percent)
	if err != nil {
		return err
	}
	log.Info("Go memory settings", "memoryLimit", limit, "gcPercent", gc)
	return nil
}

// applyMemoryLimit sets the Go runtime's soft memory limit as memoryLimit decides.
func applyMemoryLimit(getenv func(string) string, ratio float64) (string, error) {
	soft, why, err := memoryLimit(getenv, ratio)
	if err != nil || soft == 0 {
		return why, err
	}
	debug.SetMemoryLimit(soft)
	return fmt.Sprintf("%d bytes (%s)", soft, why), nil
}
