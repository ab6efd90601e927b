package data

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMaxLineBytes is the longest line a dataset file may have unless
// ReadOptions.MaxLineBytes says otherwise: 1 MiB, far above any real example (a
// BERT sequence of 512 tokens is a few KB of text) and small enough that a file
// that is not line-oriented text fails fast instead of being read whole.
const DefaultMaxLineBytes = 1 << 20

// quoteLimit is the most bytes of user data an error message quotes.
const quoteLimit = 80

// QuotePrefix returns s quoted and escaped as strconv.Quote does, cut to its first
// 80 bytes (at a character boundary) with "..." and the full length after the
// quote when it is longer: user data in messages stays short and printable.
func QuotePrefix(s string) string {
	if len(s) <= quoteLimit {
		return strconv.Quote(s)
	}
	cut := quoteLimit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("... (%d bytes)", len(s))
}

// quoteList quotes a list of names from a file (a header, JSON keys) for a
// message: each as QuotePrefix does, comma-separated, the list cut once it passes
// 80 bytes.
func quoteList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
			if b.Len() >= quoteLimit {
				fmt.Fprintf(&b, "... (%d in all)", len(names))
				break
			}
		}
		b.WriteString(QuotePrefix(n))
	}
	return b.String()
}

// shortError is err's message for a message about user data: errors of decoders
// (encoding/json quotes the offending number literal, of any length) cut to 160
// bytes and escaped when they hold anything unprintable.
func shortError(err error) string {
	msg := err.Error()
	if len(msg) > 2*quoteLimit || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }) {
		cut := min(len(msg), 2*quoteLimit)
		for cut > 0 && cut < len(msg) && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		q := strconv.Quote(msg[:cut])
		if cut < len(msg) {
			q += "..."
		}
		return q
	}
	return msg
}

// lineLimitReader passes bytes through from r and fails, with a *DataError
// naming the file and line, at the first NUL byte (binary data: no text file has
// one) or when a line grows longer than max bytes. Readers above it therefore
// never hold more than one line of max bytes (plus their buffers), whatever the
// input.
type lineLimitReader struct {
	r       io.Reader
	name    string
	max     int
	line    int // 1-based line of the next byte
	lineLen int // bytes of the current line so far
	err     error
	// recordMax, when > 0, also bounds the bytes read since the last call of record (a CSV
	// record spans lines when a quoted field holds newlines; an unclosed quote would make the
	// rest of the file one record). recordLine is the line record was given.
	recordMax, recordLen, recordLine int
}

// recordSlack is what a CSV record may exceed the line cap by before the reader gives up: the
// read-ahead of the buffers between this reader and the CSV parser.
const recordSlack = 128 << 10

// record notes that the consumer finished a record at (or after) line line: the bytes read
// from here on count towards the next one.
func (l *lineLimitReader) record(line int) {
	l.recordLen, l.recordLine = 0, line
}

func newLineLimitReader(r io.Reader, name string, max int) *lineLimitReader {
	return &lineLimitReader{r: r, name: name, max: max, line: 1}
}

func (l *lineLimitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i, b := range p[:n] {
		switch {
		case b == '\n':
			l.line++
			l.lineLen = 0
		case b == 0:
			l.err = badData(l.name, l.line, "binary data (a NUL byte at byte %d of the line): not a text file (data files are UTF-8 .tsv, .csv or .jsonl)", l.lineLen+1)
			return i, l.err
		default:
			l.lineLen++
			if l.lineLen > l.max {
				l.err = badData(l.name, l.line, "line longer than %d bytes, the limit (is this a line-oriented text data file?)", l.max)
				return i, l.err
			}
		}
		if l.recordMax > 0 {
			if l.recordLen++; l.recordLen > l.recordMax {
				l.err = badData(l.name, 0, "the CSV record after line %d is longer than %d bytes (an unclosed quote?)", l.recordLine, l.max)
				return i, l.err
			}
		}
	}
	return n, err
}
