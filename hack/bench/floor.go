package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// statusWriteWorkers is the concurrency of the trivial status writer: the same as the creates.
const statusWriteWorkers = 32

// measureStatusFloor times a trivial client writing one status per License: the second half of
// the Kubernetes floor (the first is the bench's own creates). It runs against the same control
// plane once the manager has stopped, so nothing competes for the Licenses or the CPU, with the
// creates' 32 workers and client QPS.
//
// It writes to the N Licenses of the run rather than to a separate set: a separate set would need N
// more creates (doubling the objects in etcd and the apiserver's watch cache, so the second set's
// writes would not cost what the first's did), and the floor is about these objects. Each write is
// a PUT of the status subresource (what the manager sends) carrying the status the manager left
// on that License, so it has the operator's size and shape (conditions, observed record, licenseID,
// observedGeneration), with the Ready condition's lastTransitionTime and lastSyncTime set to the time
// of the write: an unchanged object would let the apiserver skip the etcd write. The List that
// supplies the objects (a trivial client's cache) is not timed.
func measureStatusFloor(ctx context.Context, kube client.Client) (time.Duration, int, error) {
	var lics []*licensingv1alpha1.License
	var cont string
	for {
		var list licensingv1alpha1.LicenseList
		if err := kube.List(ctx, &list, client.InNamespace(namespace), client.Limit(5000), client.Continue(cont)); err != nil {
			return 0, 0, fmt.Errorf("listing Licenses: %w", err)
		}
		for i := range list.Items {
			lics = append(lics, &list.Items[i])
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	var written atomic.Int64
	t0 := time.Now()
	err := forEach(ctx, len(lics), statusWriteWorkers, func(i int) error {
		lic := lics[i]
		now := metav1.Now()
		cond := metav1.Condition{Type: licensingv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Synced",
			Message: "The LMO record matches the spec", ObservedGeneration: lic.Generation}
		if c := meta.FindStatusCondition(lic.Status.Conditions, licensingv1alpha1.ConditionReady); c != nil {
			cond = *c
		}
		cond.LastTransitionTime = now
		cond.ObservedGeneration = lic.Generation
		meta.RemoveStatusCondition(&lic.Status.Conditions, licensingv1alpha1.ConditionReady)
		lic.Status.Conditions = append(lic.Status.Conditions, cond)
		lic.Status.ObservedGeneration = lic.Generation
		lic.Status.LastSyncTime = &now
		if err := retry5(func() error { return kube.Status().Update(ctx, lic) }); err != nil {
			return err
		}
		written.Add(1)
		return nil
	})
	return time.Since(t0), int(written.Load()), err
}

// statusWriteCount is the apiserver's count of License status writes (PUT, PATCH and APPLY of
// licenses/status), successful and refused with a conflict.
type statusWriteCount struct {
	OK, Conflict, Other int64
}

// licenseStatusWrites reads apiserver_request_total from the control plane's /metrics: the
// License status writes it served, from every client. Until the floor phase the manager is the
// only client that writes a License's status, so read at "every License Ready" these are the
// manager's, which its own rest_client_requests_total cannot tell apart (it is labelled by method
// and host only, not by resource).
func licenseStatusWrites(ctx context.Context, cfg *rest.Config) (statusWriteCount, error) {
	var c statusWriteCount
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return c, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return c, fmt.Errorf("the apiserver's /metrics: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, v, ok := promSample(line)
		if !ok || labels["resource"] != "licenses" || labels["subresource"] != "status" {
			continue
		}
		switch labels["verb"] {
		case "PUT", "PATCH", "APPLY":
		default:
			continue
		}
		switch code := labels["code"]; {
		case strings.HasPrefix(code, "2"):
			c.OK += int64(v)
		case code == "409":
			c.Conflict += int64(v)
		default:
			c.Other += int64(v)
		}
	}
	return c, sc.Err()
}

// promSample parses one sample line of the Prometheus text format: `name{a="x",b="y"} 12`.
func promSample(line string) (map[string]string, float64, bool) {
	open, end := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
	if open < 0 || end < open {
		return nil, 0, false
	}
	fields := strings.Fields(line[end+1:])
	if len(fields) == 0 {
		return nil, 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return nil, 0, false
	}
	labels := map[string]string{}
	rest := line[open+1 : end]
	for rest != "" {
		eq := strings.Index(rest, `="`)
		if eq < 0 {
			break
		}
		name := strings.TrimLeft(rest[:eq], ",")
		rest = rest[eq+2:]
		q := strings.IndexByte(rest, '"') // label values here carry no escaped quotes
		if q < 0 {
			break
		}
		labels[name] = rest[:q]
		rest = rest[q+1:]
	}
	return labels, v, true
}
