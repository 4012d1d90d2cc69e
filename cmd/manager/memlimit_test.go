package main

import (
	"strings"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		ratio   float64
		want    int64
		wantErr string
	}{
		{name: "ninety percent of the container's limit", env: map[string]string{memoryLimitEnv: "536870912"}, ratio: 0.9, want: 483183820},
		{name: "no limit given", env: map[string]string{}, ratio: 0.9, want: 0},
		{name: "GOMEMLIMIT wins", env: map[string]string{"GOMEMLIMIT": "300MiB", memoryLimitEnv: "536870912"}, ratio: 0.9, want: 0},
		{name: "ratio 0 turns it off", env: map[string]string{memoryLimitEnv: "536870912"}, ratio: 0, want: 0},
		{name: "a limit with a unit is refused", env: map[string]string{memoryLimitEnv: "512Mi"}, ratio: 0.9, wantErr: "LMO_MEMORY_LIMIT=\"512Mi\""},
		{name: "a ratio above 1 is refused", env: map[string]string{memoryLimitEnv: "536870912"}, ratio: 1.5, wantErr: "--memory-limit-ratio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := memoryLimit(func(k string) string { return tt.env[k] }, tt.ratio)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("memoryLimit = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestGCPercent(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		percent int
		want    int
		wantErr bool
	}{
		{name: "the flag's value", env: map[string]string{}, percent: 50, want: 50},
		{name: "GOGC wins", env: map[string]string{"GOGC": "200"}, percent: 50, want: 0},
		{name: "too low is refused", env: map[string]string{}, percent: 5, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := gcPercent(func(k string) string { return tt.env[k] }, tt.percent)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("gcPercent = %d, %v; want %d (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
