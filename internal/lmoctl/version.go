package lmoctl

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// release is lmoctl's release, set at build time:
//
//	go build -ldflags "-X github.com/lmo-operator/lmo-operator/internal/lmoctl.release=v0.3.0" ./cmd/lmoctl
var release = "dev"

// versionText is what `lmoctl version` and `lmoctl --version` print: the release, the Go version and
// platform, and the source revision the Go toolchain stamped into the binary (absent in tests and
// in builds outside a git checkout).
func versionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lmoctl %s\n", release)
	fmt.Fprintf(&b, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "revision: %s", revision())
	return b.String()
}

// revision is the vcs revision in the build info, with its commit time and "modified" for a dirty
// tree, or "unknown".
func revision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, at string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if at != "" {
		rev += " (" + at + ")"
	}
	if modified {
		rev += ", modified"
	}
	return rev
}
