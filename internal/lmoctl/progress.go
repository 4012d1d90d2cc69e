package lmoctl

import (
	"fmt"
	"io"
	"strings"
)

// progressEvery is how many records pass between two progress lines when stderr is not a terminal.
const progressEvery = 1000

// barWidth is the number of cells of the progress bar.
const barWidth = 30

// progress tells the person running lmoctl how far a long read or write has got. On a terminal it
// redraws one line in place (a bar when the total is known); elsewhere (a CI log, a file) it writes
// a plain line every progressEvery items, so a log keeps no carriage returns.
type progress struct {
	w   io.Writer
	tty bool
	// verb and noun make the line: "Read 1200 licenses", "Rendered 1200/5000 Licenses".
	verb, noun string
	// shown is the count last drawn or written, percent the percentage last drawn; drawn says a
	// terminal line is open.
	shown, percent int
	drawn          bool
}

// newProgress returns a reporter that writes to env.Stderr.
func newProgress(env *Env, verb, noun string) *progress {
	return &progress{w: env.Stderr, tty: env.Terminal(env.Stderr), verb: verb, noun: noun}
}

// update reports that n of total items are done; total 0 means unknown.
func (p *progress) update(n, total int) {
	if !p.tty {
		if n/progressEvery > p.shown/progressEvery {
			fmt.Fprintln(p.w, p.line(n, total))
		}
		p.shown = n
		return
	}
	percent := 0
	if total > 0 {
		percent = 100 * n / total
	}
	// A redraw per percent at most: a terminal need not be written for each of 50,000 Licenses.
	if p.drawn && (n == p.shown || total > 0 && percent == p.percent && n != total) {
		return
	}
	line := p.line(n, total)
	if total > 0 {
		done := min(barWidth, barWidth*n/total)
		line = "[" + strings.Repeat("=", done) + strings.Repeat(" ", barWidth-done) + "] " + line
	}
	// \r returns to the line's start and \x1b[K clears what a longer line left there.
	fmt.Fprint(p.w, "\r"+line+"\x1b[K")
	p.shown, p.percent, p.drawn = n, percent, true
}

// done ends the reporter: on a terminal it clears the line, so what lmoctl prints next starts clean.
func (p *progress) done() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// printf writes a message of its own (a warning) to the reporter's writer on a line of its own: the
// terminal's progress line is cleared first and redrawn at the next update.
func (p *progress) printf(format string, args ...any) {
	p.done()
	fmt.Fprintf(p.w, format, args...)
}

func (p *progress) line(n, total int) string {
	if total > 0 {
		return fmt.Sprintf("%s %d/%d %s", p.verb, n, total, p.noun)
	}
	return fmt.Sprintf("%s %d %s", p.verb, n, p.noun)
}
