package lmoctl

import (
	"fmt"
	"io"
	"strings"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// collapseAfter is how many rows a section of the markdown plan shows before it folds them into a
// <details> block: a pull request comment stays readable when a change touches hundreds of Licenses.
const collapseAfter = 15

// planMarker opens every markdown plan, so that a CI job can find and replace its own last comment.
const planMarker = "<!-- lmoctl-plan -->"

// writePlanMarkdown writes the plan as a pull-request comment: a one-line summary, then a section
// each for updates, held access reductions (with what approving means), refused changes (impossible
// or blocked), installs awaited, and Licenses that report without writing. Each row names the
// License, its customer, and the field with its old and new value.
func writePlanMarkdown(w io.Writer, plan *Plan) error {
	var b strings.Builder
	b.WriteString(planMarker + "\n")
	fmt.Fprintf(&b, "### lmoctl plan\n\n%s\n", markdownSummary(plan.Summary))

	var updates, held, refused, awaiting, quiet []PlannedLicense
	for _, p := range plan.Licenses {
		switch p.Action {
		case ActionUpdate:
			updates = append(updates, p)
		case ActionHeld:
			held = append(held, p)
		case ActionImpossible, ActionBlocked:
			refused = append(refused, p)
		case ActionAwaitingInstall:
			awaiting = append(awaiting, p)
		case ActionObserve, ActionPaused:
			quiet = append(quiet, p)
		}
	}

	section(&b, "Updates", len(updates), "The operator writes these fields when the pull request is merged.",
		[]string{"License", "Customer", "Field", "Old → New", "Note"}, changeRows(updates))
	section(&b, "Held access reductions", len(held),
		"These changes cut the customer's access now, and nothing is written until they are approved. Approving one means "+
			"setting the License's annotation `"+licensingv1alpha1.AnnotationAllowAccessReduction+"` to the approval shown: it "+
			"approves exactly this change (these values of this record) and no later one.",
		[]string{"License", "Customer", "Field", "Old → New", "Cuts access", "Approval"}, heldRows(held))
	section(&b, "Refused changes", len(refused), "The operator will not make these changes as written; each says why.",
		[]string{"License", "Customer", "Field", "Old → New", "Why"}, reasonRows(refused))
	section(&b, "Awaiting install", len(awaiting), "The customer has not installed the package yet; these terms apply when it does.",
		[]string{"License", "Customer", "Field", "New"}, awaitingRows(awaiting))
	section(&b, "Reported, not written", len(quiet), "Observe policy or paused: the differences are reported and nothing is written.",
		[]string{"License", "Customer", "Field", "Old → New", "Why"}, reasonRows(quiet))
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownSummary is the plan's one-line summary, bold when something is held or refused.
func markdownSummary(s PlanSummary) string {
	line := planSummaryLine(s)
	if s.Held+s.Impossible+s.Blocked > 0 {
		return "**" + line + "**"
	}
	return line
}

// section writes a heading with the number of Licenses in it, a sentence, and a table; rows past
// collapseAfter are folded into a <details> block. A section without rows is left out.
func section(b *strings.Builder, title string, licenses int, about string, header []string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	noun := "Licenses"
	if licenses == 1 {
		noun = "License"
	}
	fmt.Fprintf(b, "\n#### %s: %d %s\n\n%s\n\n", title, licenses, noun, about)
	table := func(rows [][]string) {
		b.WriteString("| " + strings.Join(header, " | ") + " |\n")
		b.WriteString("|" + strings.Repeat(" --- |", len(header)) + "\n")
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = cell(c)
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
	if len(rows) <= collapseAfter {
		table(rows)
		return
	}
	table(rows[:collapseAfter])
	fmt.Fprintf(b, "\n<details><summary>%d more</summary>\n\n", len(rows)-collapseAfter)
	table(rows[collapseAfter:])
	b.WriteString("\n</details>\n")
}

// cell makes a value safe in a markdown table cell: no pipe ends the cell, no newline ends the row,
// and no HTML is interpreted.
func cell(s string) string {
	if s == "" {
		return "–"
	}
	r := strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'")
	return r.Replace(s)
}

// licenseName is the License as the rows name it: namespace/name when it has a namespace.
func licenseName(p PlannedLicense) string {
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}

// customerOf is the customer a row names: the account or lead company behind the record, else the
// subscriber org id.
func customerOf(p PlannedLicense) string {
	if p.Customer != "" {
		return p.Customer
	}
	return p.SubscriberOrgID
}

func oldToNew(c FieldChange) string {
	old := c.Old
	if old == "" {
		old = "–"
	}
	return old + " → " + c.New
}

// changeRows is one row per changed field, noting an access reduction the License approves.
func changeRows(ps []PlannedLicense) [][]string {
	var rows [][]string
	for _, p := range ps {
		note := ""
		if len(p.AccessReductions) > 0 {
			note = "approved access reduction (" + p.Approval + "): " + strings.Join(p.AccessReductions, "; ")
		}
		for _, c := range p.Changes {
			rows = append(rows, []string{licenseName(p), customerOf(p), c.Field, oldToNew(c), note})
		}
	}
	return rows
}

func heldRows(ps []PlannedLicense) [][]string {
	var rows [][]string
	for _, p := range ps {
		for _, c := range p.Changes {
			rows = append(rows, []string{licenseName(p), customerOf(p), c.Field, oldToNew(c), strings.Join(p.AccessReductions, "; "), p.Approval})
		}
	}
	return rows
}

// reasonRows is one row per changed field, or one row when nothing can be compared, with the
// reason and its message.
func reasonRows(ps []PlannedLicense) [][]string {
	var rows [][]string
	for _, p := range ps {
		why := p.Reason
		if p.Message != "" {
			why += ": " + p.Message
		}
		if len(p.Changes) == 0 {
			rows = append(rows, []string{licenseName(p), customerOf(p), "", "", why})
			continue
		}
		for _, c := range p.Changes {
			rows = append(rows, []string{licenseName(p), customerOf(p), c.Field, oldToNew(c), why})
		}
	}
	return rows
}

func awaitingRows(ps []PlannedLicense) [][]string {
	var rows [][]string
	for _, p := range ps {
		for _, c := range p.Changes {
			rows = append(rows, []string{licenseName(p), customerOf(p), c.Field, c.New})
		}
	}
	return rows
}
