package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// TestBinary builds lmosim, runs it on a free port with the sample seed, logs in with client
// credentials, runs a query, and checks that SIGTERM makes it exit 0 within 5 seconds.
func TestBinary(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM is not deliverable on Windows")
	}
	bin := filepath.Join(t.TempDir(), "lmosim")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--seed", "../../config/samples/lmosim-seed.yaml")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testenv.LockedBuffer{} // the test reads it while the child still writes
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once Wait returned; waitErr is its answer
	var waitErr error
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		waitErr = cmd.Wait()
		close(exited)
	}()
	var first string
	select {
	case first = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatalf("no first line on stdout; stderr: %s", stderr.String())
	}
	const prefix = "lmosim listening on "
	if !strings.HasPrefix(first, prefix) {
		t.Fatalf("first stdout line %q; stderr: %s", first, stderr.String())
	}
	base := strings.TrimPrefix(first, prefix)
	if _, err := url.Parse(base); err != nil || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q", base)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.PostForm(base+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"lmo-operator"}, "client_secret": {"dev-secret-change-me"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
		TokenType   string `json:"token_type"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || tok.AccessToken == "" || tok.InstanceURL != base || tok.TokenType != "Bearer" {
		t.Fatalf("token: %d %+v %v", resp.StatusCode, tok, err)
	}

	req, _ := http.NewRequest("GET", base+"/services/data/v62.0/query?q="+url.QueryEscape("SELECT Id, sfLma__Status__c FROM sfLma__License__c"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		TotalSize int              `json:"totalSize"`
		Done      bool             `json:"done"`
		Records   []map[string]any `json:"records"`
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || page.TotalSize == 0 || len(page.Records) == 0 {
		t.Fatalf("query: %d %+v %v", resp.StatusCode, page, err)
	}
	if resp.Header.Get("Sforce-Limit-Info") != "api-usage=1/100000" {
		t.Errorf("Sforce-Limit-Info = %q", resp.Header.Get("Sforce-Limit-Info"))
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr: %s", waitErr, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after SIGTERM; stderr: %s", stderr.String())
	}
}

// The binary itself refuses to start on every interface without --insecure-listen.
func TestBinaryRefusesANonLoopbackListenAddress(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lmosim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--listen", "0.0.0.0:0", "--seed", "../../config/samples/lmosim-seed.yaml").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--insecure-listen") {
		t.Fatalf("lmosim --listen 0.0.0.0:0: err %v, output %q; want a refusal naming --insecure-listen", err, out)
	}
}
