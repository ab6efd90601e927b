package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kprune/kprune/prune"
)

// progressBar renders prune.Progress on a terminal; on anything else it prints nothing.
type progressBar struct {
	w     io.Writer
	tty   bool
	last  time.Time
	start time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty, start: time.Now()}
}

func (p *progressBar) update(pr prune.Progress) {
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

func (p *progressBar) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 90)+"\r")
	}
}
