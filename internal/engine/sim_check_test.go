package engine_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// The checker, in the spirit of Jepsen's: it keeps its own books of what lmosim holds and of what
// the engine could know, and judges the engine's behaviour against them, never against the
// engine's own state.
//
// Its books count every change of the LMO with a sequence number (seq): a commit of the engine's
// Collections call, an edit by Dana Admin, an install, an uninstall, a report of the subscriber
// org. For each record it keeps the last change of each field, and what the engine last read of
// it: the snapshot of the LMO that the engine's latest completed read was served (a full load, a
// poll, a re-read), with that snapshot's seq — unless a write answer of the record reached the
// engine between the read's serving and its end (the engine does not take a copy that may predate
// its write, and reads the record again). "Visible" below means a completed read was served after
// the change, while the change was still the LMO's value.
//
// The invariants, each checked where it can first fail:
//
//  1. Every value sent (judged the moment the Collections call leaves the engine) is what the spec
//     of the License that owns the record asks for — the oldest License naming the record's
//     subscriber — and that License is Enforce and not paused; a License being deleted may only
//     have its record suspended, with deletionPolicy Suspend and the approval annotation. The guard:
//     no value that cuts the customer's access (Active or Trial to Suspended, an expiration already
//     past, fewer seats than in use) without the approval annotation, judged against the LMO as it
//     is and as the engine last read it (a reduction the engine could not see is a race no client
//     can win); no write to a record the engine had read as Uninstalled.
//  2. Every edit by Dana Admin is reported with its author. Reported means: when the engine
//     called OnChange for the license, or when a License naming the record was reconciled, after
//     the edit, the mirror showed the edited value attributed to Dana Admin (the field's history
//     row, else the record's last modifier; a parameter's value record's last modifier), as the
//     License's status then shows it. An edit that was visible before the engine's write
//     overwrote it must be reported before that write is sent.
//     An edit that crossed the write in flight (overwritten before any read saw it) must be
//     reported from the field history afterwards (License.Superseded), by the end of the run, once
//     the engine that wrote completed a read of the record; feature parameter values have no field
//     history, and an engine restarted in between never saw its write, so those crossings are
//     counted, not required. An edit still in place at the end must be reported by then.
//  3. No write is sent twice: sending v to a field that holds v is a duplicate when, since the
//     field last changed, the engine had evidence that it holds v — a success answer for v that
//     reached it, or a completed read that showed v. And sending v again when the field has not
//     changed since the last send of v, whose outcome the engine never learnt (the answer was lost,
//     or a 5xx), is a duplicate unless a read served after that send showed the field without v
//     (the re-read showed it missing).
//  4. Freshness, after every step: a record the engine read after its last change shows in the
//     mirror exactly as the LMO holds it (status, seats, expiration, seats used, parameters).
//  5. After the faults stop, within simQuietRounds quiet rounds (clock +2 minutes, poll, reconcile
//     every License, up to three flushes, poll, reconcile): the decision procedure, asked about
//     the LMO as it is, finds nothing left to write for any License (or the LMO refused the write
//     for good and the refusal is reported); every record was read since its last change (so, by
//     4, the mirror reports the truth); nothing is pending. The engine's calls over the quiet
//     rounds stay under simQuietCalls. (Bounds counted in rounds and calls, never in wall time.)
//  6. No step blocks: each runs under a watchdog of simStepTimeout (real time, the only real-time
//     bound; it catches deadlocks).

// simKey is one field of one record.
type simKey struct{ rec, field string }

type simKnown struct {
	rec  simRec
	seq  int
	tick int
}

// simSent is the engine's last send of a value to a field, and what became of it.
type simSent struct {
	value string
	// seq is the books' seq when it was sent, after the seq once Salesforce served it; tick orders
	// it among the engine's reads.
	seq, after, tick int
	// outcome is unknown until an answer reaches the engine: written or refused.
	outcome string
}

type simAnswer struct {
	value string
	seq   int
}

// simEdit is one field edited by Dana Admin.
type simEdit struct {
	key      simKey
	value    string
	seq      int
	visible  bool
	reported bool
	// supersededSeq is the change that replaced the edit (0 while it is the field's value), and
	// supersededBy its author; supersededEngine counts the engine restarts before it.
	supersededSeq    int
	supersededBy     string
	supersededEngine int
	// readAfter: the engine that overwrote the edit completed a read of the record afterwards.
	readAfter bool
}

type simChecker struct {
	w          *simWorld
	seq        int
	truth      simTruth
	lastChange map[simKey]int
	// recChange is the last change of each record, its creation included.
	recChange map[string]int
	known     map[string]simKnown
	answers   map[simKey]simAnswer
	// tick orders reads and answers; answeredTick is, by record, the tick of its last success
	// answer that reached the engine.
	tick         int
	answeredTick map[string]int
	sent         map[simKey]*simSent
	edits        []*simEdit
	failures     []string

	// Counts for the report.
	sends, crossedParams, crossedRestart int
	// approvedReductions counts values sent that cut access, under an approval naming them.
	approvedReductions int
}

func newSimChecker(w *simWorld) *simChecker {
	c := &simChecker{w: w, lastChange: map[simKey]int{}, recChange: map[string]int{}, known: map[string]simKnown{},
		answers: map[simKey]simAnswer{}, answeredTick: map[string]int{},
		sent: map[simKey]*simSent{}}
	c.truth = w.readTruth()
	return c
}

func (c *simChecker) fail(format string, args ...any) {
	c.failures = append(c.failures, fmt.Sprintf("step %d: ", c.w.step)+fmt.Sprintf(format, args...))
}

// verifyTruth checks the books against lmosim: a difference is a change the simulation did not
// book, a defect of the simulation itself.
func (c *simChecker) verifyTruth() {
	now := c.w.readTruth()
	for _, id := range now.ids() {
		a, b := now[id], c.truth[id]
		for f, v := range a.Fields {
			if b.Fields[f] != v {
				c.fail("simulation defect: lmosim holds %s %s=%q, the checker's books %q", id, f, v, b.Fields[f])
			}
		}
	}
}

// truthChanged books what lmosim holds after a change made by author.
func (c *simChecker) truthChanged(after simTruth, author string) {
	var changed []simKey
	var created []string
	for _, id := range after.ids() {
		a := after[id]
		b, existed := c.truth[id]
		if !existed {
			created = append(created, id)
			continue
		}
		fields := make([]string, 0, len(a.Fields))
		for f := range a.Fields {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			if a.Fields[f] != b.Fields[f] {
				changed = append(changed, simKey{id, f})
			}
		}
	}
	c.truth = after
	if len(changed) == 0 && len(created) == 0 {
		return
	}
	c.seq++
	for _, id := range created {
		c.recChange[id] = c.seq
	}
	for _, k := range changed {
		c.lastChange[k] = c.seq
		c.recChange[k.rec] = c.seq
		for _, e := range c.edits {
			if e.key == k && e.supersededSeq == 0 {
				e.supersededSeq, e.supersededBy, e.supersededEngine = c.seq, author, c.w.restarts
			}
		}
		if author == simAdminName {
			c.edits = append(c.edits, &simEdit{key: k, value: after[k.rec].Fields[k.field], seq: c.seq})
			c.w.logf("  #%d Dana Admin set %s %s=%s", c.seq, k.rec, k.field, after[k.rec].Fields[k.field])
		}
	}
}

// rawExpirationsChanged books the engine's writes that replaced an expiration with another form of
// the same meaning (an empty date with 1970-01-01): the books saw no change, but the field history
// shows the engine's write after the person's edit, which it therefore supersedes.
func (c *simChecker) rawExpirationsChanged(before, after map[string]string) {
	recs := make([]string, 0, len(after))
	for rec := range after {
		recs = append(recs, rec)
	}
	sort.Strings(recs)
	for _, rec := range recs {
		if before[rec] == after[rec] {
			continue
		}
		key := simKey{rec, drift.FieldExpiration}
		for _, e := range c.edits {
			if e.key == key && e.supersededSeq == 0 {
				if c.lastChange[key] != c.seq {
					c.seq++
					c.lastChange[key] = c.seq
					c.recChange[rec] = c.seq
				}
				e.supersededSeq, e.supersededBy, e.supersededEngine = c.seq, simOperator, c.w.restarts
			}
		}
	}
}

// nextTick orders the engine's reads and the answers that reach it.
func (c *simChecker) nextTick() int {
	c.tick++
	return c.tick
}

// knowRead books a completed read of the engine: ids (nil: every record) as the snapshot snap,
// taken at seq, showed them. A record one of whose write answers reached the engine after the read
// was served is left out: the engine does not take a copy that may predate its write (it reads
// the record again).
func (c *simChecker) knowRead(ids []string, snap simTruth, seq, servedTick int) {
	if snap == nil {
		return
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[sfid.Key15(id)] = true
	}
	for _, id := range snap.ids() {
		if ids != nil && !want[id] || c.answeredTick[id] > servedTick {
			continue
		}
		if kn, ok := c.known[id]; ok && kn.seq > seq {
			continue
		}
		c.known[id] = simKnown{rec: snap[id], seq: seq, tick: servedTick}
		for _, e := range c.edits {
			if e.key.rec != id || e.seq > seq {
				continue
			}
			if e.supersededSeq == 0 || e.supersededSeq > seq {
				e.visible = true
			} else if e.supersededBy == simOperator && e.supersededEngine == c.w.restarts {
				e.readAfter = true
			}
		}
	}
}

// engineRestarted forgets what the old engine knew.
func (c *simChecker) engineRestarted() {
	c.known = map[string]simKnown{}
	c.answers = map[simKey]simAnswer{}
}

// resolveSend maps a record of a Collections call to a license record and its fields as text.
func (c *simChecker) resolveSend(s simSend) (string, map[string]string) {
	out := map[string]string{}
	if s.sobject == salesforce.LicenseObject {
		rec := sfid.Key15(s.id)
		if _, ok := c.truth[rec]; !ok {
			return "", nil
		}
		for f, v := range s.fields {
			name, text := licenseFieldText(f, v)
			out[name] = text
		}
		return rec, out
	}
	rec, name := c.truth.paramOf(s.id)
	if rec == "" {
		return "", nil
	}
	for f, v := range s.fields {
		if f != salesforce.FieldFeatureParameterValue {
			out[f] = "?"
			continue
		}
		out[drift.ParamField(name)] = valueText(v)
	}
	return rec, out
}

// beforeSend judges a Collections call as it leaves the engine (invariants 1, 2 and 3).
func (c *simChecker) beforeSend(sends []simSend) {
	today := c.w.now().UTC().Format(time.DateOnly)
	for _, s := range sends {
		c.sends++
		rec, fields := c.resolveSend(s)
		if rec == "" {
			c.fail("a write to %s %s, which is no license or value record of the LMO", s.sobject, s.id)
			continue
		}
		t := c.truth[rec]
		kn, hasKn := c.known[rec]
		if hasKn && kn.rec.Fields[drift.FieldStatus] == "Uninstalled" {
			c.fail("a write to %s, which the engine read as Uninstalled at #%d", rec, kn.seq)
		}
		owner := c.w.model.checkerOwner(t.Subscriber)
		names := make([]string, 0, len(fields))
		for f := range fields {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			v := fields[f]
			c.w.logf("  sends %s %s=%s", rec, f, v)
			c.checkSpec(owner, rec, f, v, t, kn, hasKn, today)
			c.checkDuplicate(simKey{rec, f}, v, t, kn, hasKn)
			c.checkOverwrite(simKey{rec, f}, v, t)
			c.sent[simKey{rec, f}] = &simSent{value: v, seq: c.seq, after: c.seq, tick: c.nextTick(), outcome: "unknown"}
		}
	}
}

func (c *simChecker) checkSpec(owner *licensingv1alpha1.License, rec, field, v string, t simRec, kn simKnown, hasKn bool, today string) {
	if owner == nil {
		c.fail("%s=%s sent to %s, which no License names", field, v, rec)
		return
	}
	// Approved only by an approval a reviewer gave for exactly this value of this field of this record.
	given, ok := c.w.approvals[owner.Annotations[licensingv1alpha1.AnnotationAllowAccessReduction]][simKey{sfid.Key15(rec), field}]
	approved := ok && given == v
	paused := owner.Annotations[licensingv1alpha1.AnnotationPaused] == "true"
	observe := owner.Spec.ManagementPolicy == licensingv1alpha1.PolicyObserve
	if !owner.DeletionTimestamp.IsZero() {
		if owner.Spec.DeletionPolicy != licensingv1alpha1.DeletionPolicySuspend || observe || paused || !approved ||
			field != drift.FieldStatus || v != "Suspended" {
			c.fail("%s=%s sent to %s while its License %s is being deleted (deletionPolicy %s, %s, paused %t, approved %t)",
				field, v, rec, owner.Name, owner.Spec.DeletionPolicy, owner.Spec.ManagementPolicy, paused, approved)
			return
		}
		c.approvedReductions++
		return
	}
	if observe || paused {
		c.fail("%s=%s sent to %s while its License %s is %s, paused %t", field, v, rec, owner.Name, owner.Spec.ManagementPolicy, paused)
		return
	}
	want, managed := simDesired(owner.Spec)[field]
	if !managed {
		c.fail("%s=%s sent to %s; its License %s does not manage %s", field, v, rec, owner.Name, field)
		return
	}
	if want != v {
		c.fail("%s=%s sent to %s; its License %s asks for %s", field, v, rec, owner.Name, want)
		return
	}
	if approved {
		if simReduction(field, v, t, today) != "" {
			c.approvedReductions++
		}
		return
	}
	if r := simReduction(field, v, t, today); r != "" && hasKn && simReduction(field, v, kn.rec, today) != "" {
		c.fail("%s=%s sent to %s cuts the customer's access (%s) and License %s has no approval", field, v, rec, r, owner.Name)
	}
}

func (c *simChecker) checkDuplicate(key simKey, v string, t simRec, kn simKnown, hasKn bool) {
	last := c.lastChange[key]
	if p := c.sent[key]; p != nil && p.value == v && p.outcome == "unknown" && last <= p.after &&
		!(hasKn && kn.tick > p.tick && kn.rec.Fields[key.field] != v) {
		c.fail("%s %s=%s sent again: its send at #%d had an unknown outcome and no read since showed it missing",
			key.rec, key.field, v, p.seq)
		return
	}
	if t.Fields[key.field] != v {
		return
	}
	if a, ok := c.answers[key]; ok && a.value == v && a.seq >= last {
		c.fail("%s %s=%s sent again: a success answer for it reached the engine at #%d and the field has not changed since (#%d)",
			key.rec, key.field, v, a.seq, last)
		return
	}
	if hasKn && kn.seq >= last && kn.rec.Fields[key.field] == v {
		c.fail("%s %s=%s sent although the LMO holds it: the engine read it at #%d and the field has not changed since (#%d)",
			key.rec, key.field, v, kn.seq, last)
	}
}

func (c *simChecker) checkOverwrite(key simKey, v string, t simRec) {
	if t.Fields[key.field] == v {
		return
	}
	for _, e := range c.edits {
		if e.key == key && e.supersededSeq == 0 && e.visible && !e.reported {
			c.fail("%s %s=%s sent over Dana Admin's %s (made at #%d, read by the engine since) before the engine reported it",
				key.rec, key.field, v, e.value, e.seq)
		}
	}
}

// served books that Salesforce served a Collections call (and committed it, or refused it).
func (c *simChecker) served(sends []simSend) {
	for _, s := range sends {
		rec, fields := c.resolveSend(s)
		for f := range fields {
			if p := c.sent[simKey{rec, f}]; p != nil {
				p.after = c.seq
			}
		}
	}
}

// refused books an answer that says the whole call was refused (a 4xx): nothing was written.
func (c *simChecker) refused(sends []simSend) { c.outcome(sends, "refused") }

// unknown books a call whose answer never reached the engine.
func (c *simChecker) unknown(sends []simSend) { c.outcome(sends, "unknown") }

func (c *simChecker) outcome(sends []simSend, outcome string) {
	for _, s := range sends {
		rec, fields := c.resolveSend(s)
		for f := range fields {
			if p := c.sent[simKey{rec, f}]; p != nil {
				p.outcome = outcome
			}
		}
	}
}

// answered books the answer of a Collections call that reached the engine, record by record.
func (c *simChecker) answered(sends []simSend, body []byte, seq int) {
	var results []struct {
		Success bool `json:"success"`
	}
	if json.Unmarshal(body, &results) != nil {
		return
	}
	for i, s := range sends {
		if i >= len(results) {
			continue
		}
		rec, fields := c.resolveSend(s)
		for f, v := range fields {
			if p := c.sent[simKey{rec, f}]; p != nil {
				p.outcome = map[bool]string{true: "written", false: "refused"}[results[i].Success]
			}
			if results[i].Success {
				c.answers[simKey{rec, f}] = simAnswer{value: v, seq: seq}
			}
		}
		if results[i].Success {
			c.answeredTick[rec] = c.nextTick()
		}
	}
}

// observeReports books the edits the mirror reports, each time the engine calls OnChange.
func (c *simChecker) observeReports(lmo engine.LMO, ids []string) {
	for _, id := range ids {
		m, ok := lmo.License(id)
		if !ok {
			continue
		}
		rec := sfid.Key15(id)
		for _, e := range c.edits {
			if e.key.rec != rec || e.reported || e.seq > c.seq {
				continue
			}
			if mirrorText(m, e.key.field) == e.value && attribution(m, e.key.field) == simAdminName {
				e.reported = true
				c.w.logf("  reported: Dana Admin's %s %s=%s", rec, e.key.field, e.value)
				continue
			}
			for _, s := range m.Superseded {
				if s.Field == simAPIField[e.key.field] && s.Value == e.value && s.By == simAdminName {
					e.reported = true
					c.w.logf("  reported from the history: Dana Admin's %s %s=%s, replaced by %s", rec, e.key.field, e.value, s.ReplacedBy)
				}
			}
		}
	}
}

// checkFresh is invariant 4; final also requires every record to have been read since its last
// change.
func (c *simChecker) checkFresh(final bool) {
	for _, id := range c.truth.ids() {
		t := c.truth[id]
		kn, ok := c.known[id]
		if !ok || kn.seq < c.recChange[id] {
			if final {
				c.fail("record %s was not read since its last change (#%d) by the end of the quiet rounds", id, c.recChange[id])
			}
			continue
		}
		m, found := c.w.eng.License(id)
		if !found {
			c.fail("record %s, read at #%d, is not in the mirror", id, kn.seq)
			continue
		}
		fields := make([]string, 0, len(t.Fields))
		for f := range t.Fields {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			if got := mirrorText(m, f); got != t.Fields[f] {
				c.fail("the mirror shows %s %s=%s, the LMO holds %s: the engine read the record at #%d and it has not changed since",
					id, f, got, t.Fields[f], kn.seq)
			}
		}
	}
}

// checkEdits is invariant 2 at the end of the run, when the mirror is observed once more as a
// License's status or `lmoctl report` would show it now.
func (c *simChecker) checkEdits() {
	c.observeReports(c.w.eng, c.truth.ids())
	for _, e := range c.edits {
		switch {
		case e.reported:
		case e.supersededSeq == 0:
			m, _ := c.w.eng.License(e.key.rec)
			c.fail("Dana Admin's %s %s=%s (#%d) is still the LMO's value and was never reported; the mirror shows %q by %q",
				e.key.rec, e.key.field, e.value, e.seq, mirrorText(m, e.key.field), attribution(m, e.key.field))
		case e.supersededBy != simOperator || e.visible:
			// Replaced by another person or the subscriber, or (visible) judged when overwritten.
		default:
			if _, param := paramName(e.key.field); param {
				c.crossedParams++
				continue
			}
			if !e.readAfter {
				// The engine that wrote was replaced before it read the record again: the new
				// one cannot tell the crossing from the history of the fleet.
				c.crossedRestart++
				continue
			}
			c.fail("Dana Admin's %s %s=%s (#%d) crossed the engine's write (#%d) in flight and was never reported from the field history",
				e.key.rec, e.key.field, e.value, e.seq, e.supersededSeq)
		}
	}
}

// simDesired is what a spec asks for, by field, in drift's text (the checker's own reading of the
// API, independent of licterms).
func simDesired(spec licensingv1alpha1.LicenseSpec) map[string]string {
	out := map[string]string{}
	if spec.Status != "" {
		out[drift.FieldStatus] = string(spec.Status)
	}
	if spec.Seats != nil {
		if spec.Seats.StrVal == licensingv1alpha1.SiteLicense {
			out[drift.FieldSeats] = drift.SiteLicense
		} else {
			out[drift.FieldSeats] = strconv.Itoa(spec.Seats.IntValue())
		}
	}
	if spec.Expiration != "" {
		out[drift.FieldExpiration] = spec.Expiration
	}
	for _, p := range spec.FeatureParameters {
		switch {
		case p.Boolean != nil:
			out[drift.ParamField(p.Name)] = strconv.FormatBool(*p.Boolean)
		case p.Integer != nil:
			out[drift.ParamField(p.Name)] = strconv.FormatInt(*p.Integer, 10)
		case p.Date != nil:
			out[drift.ParamField(p.Name)] = *p.Date
		}
	}
	return out
}

// simReduction says how writing v to a field of r cuts the customer's access now ("" if not).
func simReduction(field, v string, r simRec, today string) string {
	cur := r.Fields[field]
	switch field {
	case drift.FieldStatus:
		if v == "Suspended" && (cur == "Active" || cur == "Trial") {
			return "status " + cur + " to Suspended"
		}
	case drift.FieldExpiration:
		if v != engine.Never && v < today && v != cur {
			return "expiration " + v + " is past"
		}
	case drift.FieldSeats:
		n, err := strconv.Atoi(v)
		used, _ := strconv.Atoi(r.Fields[simFieldUsed])
		if err == nil && n < used && v != cur {
			return fmt.Sprintf("seats %d below the %d in use", n, used)
		}
	}
	return ""
}
