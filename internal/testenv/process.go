package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Binary is the path of bin/<name>, which make build writes; it fails t when it is missing.
func Binary(t TB, name string) string {
	t.Helper()
	path := filepath.Join(Root(), "bin", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("bin/%s is missing: run `make build` first (make test-e2e and make test-faults do)", name)
	}
	return path
}

// Process is a binary of bin/ started by a test, which ends it by its own pid.
type Process struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

// StartProcess runs bin/<name> with args, its output appended to logPath. When t ends, the process
// gets stop (SIGKILL, or SIGINT to let it shut down) and, if t failed, the tail of its log is logged.
func StartProcess(t TB, name, logPath string, stop syscall.Signal, args ...string) *Process {
	t.Helper()
	return StartProgram(t, Binary(t, name), logPath, stop, args...)
}

// StartProgram is StartProcess for the program at path (a link to a binary of bin/, say, to run it
// under another name).
func StartProgram(t TB, path, logPath string, stop syscall.Signal, args ...string) *Process {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("the log of %s: %v", path, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	p := &Process{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(p.exited) }() // a log that failed to close only loses its tail
	t.Cleanup(func() {
		p.Signal(stop)
		if t.Failed() {
			tail := p.Log()
			if len(tail) > 20000 {
				tail = tail[len(tail)-20000:]
			}
			t.Logf("--- %s (tail) ---\n%s", filepath.Base(logPath), tail)
		}
	})
	return p
}

// Signal sends sig to the process (if it still runs) and waits up to 10 s for it to exit, then kills it.
func (p *Process) Signal(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitCode is the process's exit status once it has exited (-1 before, or when a signal ended it).
func (p *Process) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// Log is what the process has written so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// ListeningURL waits up to timeout for bin/lmosim's "lmosim listening on <url>" line and returns the URL.
func (p *Process) ListeningURL(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		sc := bufio.NewScanner(strings.NewReader(p.Log()))
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "http://"); i >= 0 && strings.Contains(sc.Text(), "listening") {
				return strings.TrimSpace(sc.Text()[i:]), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("lmosim printed no URL in %s: %s", timeout, p.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
