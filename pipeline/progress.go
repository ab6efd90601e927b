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
}

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
	fmt.Fprintf(p.w, "\r%-32s [%s%s] %d/%d %5.1fs ", label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), pr.Done, pr.Total, time.Since(p.start).Seconds())
}

// Done clears the bar's line.
func (p *ProgressBar) Done() {
	if p.tty {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 90)+"\r")
	}
}
