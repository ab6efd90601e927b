package pipeline

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kprune/kprune/prune"
)

// ProgressBar renders prune.Progress as a one-line bar on w when w is a terminal (an *os.File
// on a character device); on anything else it writes nothing.
type ProgressBar struct {
	w     io.Writer
	tty   bool
	last  time.Time
	start time.Time
	eta   *prune.ETA
	told  bool
	// Advice, if set, is appended to the line that announces the estimate: it gets the whole
	// run's estimated time (teacher pass included) and returns advice ("" for none), such as a
	// faster setting.
	Advice func(total time.Duration) string
}

// SetETA makes the bar show the time left of a K-prune run estimated by e, and announce the
// estimated total once the teacher pass is done (on any writer, terminal or not: it is one line).
// A nil e shows no estimate.
func (p *ProgressBar) SetETA(e *prune.ETA) { p.eta = e }

// NewProgressBar returns a bar that writes to w, its clock started.
func NewProgressBar(w io.Writer) *ProgressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &ProgressBar{w: w, tty: tty, start: time.Now()}
}

// Update redraws the bar for pr, at most every 100 ms unless pr is complete; pass it as a
// prune progress callback.
func (p *ProgressBar) Update(pr prune.Progress) {
	if p.eta != nil && !p.told && pr.Phase == prune.PhaseTeacher && pr.Done == pr.Total {
		if left, ok := p.eta.Remaining(pr); ok {
			p.told = true
			p.clear()
			advice := ""
			if p.Advice != nil {
				advice = p.Advice(time.Since(p.start) + left)
			}
			fmt.Fprintf(p.w, "teacher pass done in %.1fs; estimated time left about %s on this machine%s\n", time.Since(p.start).Seconds(), RoughDuration(left), advice)
		}
	}
	if !p.tty || (time.Since(p.last) < 100*time.Millisecond && pr.Done != pr.Total) {
		return
	}
	p.last = time.Now()
	label := string(pr.Phase)
	if pr.Sublayer >= 0 {
		kind := "MHA"
		if pr.Sublayer%2 == 1 {
			kind = "FFN"
		}
		label = fmt.Sprintf("sublayer %d/%d %s %s", pr.Sublayer+1, pr.Sublayers, kind, pr.Phase)
	}
	const width = 30
	filled := 0
	if pr.Total > 0 {
		filled = width * pr.Done / pr.Total
	}
	left := ""
	if p.eta != nil {
		if d, ok := p.eta.Remaining(pr); ok {
			left = RoughDuration(d) + " left"
		}
	}
	fmt.Fprintf(p.w, "\r%-32s [%s%s] %d/%d %5.1fs %s ", label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), pr.Done, pr.Total, time.Since(p.start).Seconds(), left)
}

// clear erases the bar's line on a terminal.
func (p *ProgressBar) clear() {
	if p.tty {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 100)+"\r")
	}
}

// RoughDuration renders an estimate: "40s", "3 min", "1 h 20 min".
func RoughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()+0.5))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()+0.5))
	}
	h := int(d.Hours())
	return fmt.Sprintf("%d h %d min", h, int(d.Minutes()+0.5)-60*h)
}

// Done clears the bar's line.
func (p *ProgressBar) Done() { p.clear() }
