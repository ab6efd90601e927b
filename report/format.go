package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// esc escapes text for HTML and XML content and attribute values.
func esc(s string) string { return html.EscapeString(s) }

// coord formats an SVG coordinate with two decimals (deterministic, compact).
func coord(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" || s == "" {
		return "0"
	}
	return s
}

// intComma formats n with thousands separators: 4385920 -> "4,385,920".
func intComma(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pct formats a fraction as a percentage with two decimals: 0.4987 -> "49.87%".
func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 2, 64) + "%" }

// flops formats a FLOP count with an SI prefix: 2.46e9 -> "2.460 GFLOPs".
func flops(f float64) string {
	switch a := math.Abs(f); {
	case a >= 1e12:
		return fmt.Sprintf("%.3f TFLOPs", f/1e12)
	case a >= 1e9:
		return fmt.Sprintf("%.3f GFLOPs", f/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.3f MFLOPs", f/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.3f kFLOPs", f/1e3)
	}
	return fmt.Sprintf("%.0f FLOPs", f)
}

// megabytes formats a byte count in MB (10^6 bytes).
func megabytes(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// seconds formats a duration given in seconds.
func seconds(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

// num formats a float compactly with 4 significant digits (masses, losses, lambdas).
func num(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

// errWriter wraps an io.Writer and keeps the first write error, so that rendering code can write
// freely and check once at the end.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) print(s ...string) {
	for _, x := range s {
		if e.err != nil {
			return
		}
		_, e.err = io.WriteString(e.w, x)
	}
}
