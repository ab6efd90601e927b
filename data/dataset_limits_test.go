package data

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkShortMessage fails unless err is an error whose message is short, printable UTF-8
// (no raw user bytes), and mentions every string of want.
func checkShortMessage(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	msg := err.Error()
	if len(msg) > 400 {
		t.Fatalf("%s: %d-byte error message: %.200q...", what, len(msg), msg)
	}
	if !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		t.Fatalf("%s: error message has raw control or invalid bytes: %q", what, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Fatalf("%s: error %q does not mention %q", what, msg, w)
		}
	}
}

// TestReadRejectsBinaryAndHugeLines: a few MB of NULs, one multi-MB line and random bytes fail
// with a short, escaped message naming the file and line, in every format, instead of being
// read whole and echoed back.
func TestReadRejectsBinaryAndHugeLines(t *testing.T) {
	nuls := make([]byte, 4<<20)
	long := bytes.Repeat([]byte("a"), 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	longSecond := append([]byte("sentence\tlabel\nok\t1\n"), long...)
	for _, ext := range []string{"tsv", "csv", "jsonl"} {
		name := "data." + ext
		_, err := ReadDatasetFrom(bytes.NewReader(nuls), name, ReadOptions{})
		checkShortMessage(t, ext+" NULs", err, name+":1:", "not a text file")
		_, err = ReadDatasetFrom(bytes.NewReader(long), name, ReadOptions{})
		checkShortMessage(t, ext+" long line", err, name+":1:", "longer than 1048576 bytes")
		_, err = ReadDatasetFrom(bytes.NewReader(random), name, ReadOptions{})
		checkShortMessage(t, ext+" random bytes", err, name+":")
		_, err = ReadDatasetFrom(bytes.NewReader(longSecond), name, ReadOptions{Format: FormatTSV})
		checkShortMessage(t, ext+" long third line", err, name+":3:", "longer than")
	}
	// A small random file may hold no NUL: its header still is not text.
	_, err := ReadDatasetFrom(strings.NewReader("\xff\xfe\x81x\ty\n1\t2\n"), "bin.tsv", ReadOptions{})
	checkShortMessage(t, "invalid UTF-8 header", err, "bin.tsv:1:", "not UTF-8")
}

// TestReadLineLimit: lines up to MaxLineBytes are read; one byte more is an error.
func TestReadLineLimit(t *testing.T) {
	row := strings.Repeat("x", 20)
	file := "sentence\n" + row + "\n"
	if _, err := ReadDatasetFrom(strings.NewReader(file), "ok.tsv", ReadOptions{MaxLineBytes: 20}); err != nil {
		t.Fatalf("line at the limit: %v", err)
	}
	_, err := ReadDatasetFrom(strings.NewReader(file+row+"y\n"), "long.tsv", ReadOptions{MaxLineBytes: 20})
	checkShortMessage(t, "line above the limit", err, "long.tsv:3:", "longer than 20 bytes")
	if _, err := ReadDatasetFrom(strings.NewReader(file), "neg.tsv", ReadOptions{MaxLineBytes: -1}); err == nil {
		t.Fatal("negative MaxLineBytes accepted")
	}
}

// TestMessagesQuoteShortPrefixes: header names, keys and labels from the file are quoted,
// escaped and cut in messages.
func TestMessagesQuoteShortPrefixes(t *testing.T) {
	big := strings.Repeat("\x1b[31mred", 20000) // terminal escapes, 160 KB
	cases := []struct {
		name, file string
		opts       ReadOptions
		want       string
	}{
		{"h.tsv", big + "\tother\nx\ty\n", ReadOptions{}, "no known text column"},
		{"l.tsv", "sentence\tlabel\nx\t1\ny\t" + big + "\n", ReadOptions{Labels: LabelClass}, "bad label"},
		{"s.tsv", "sentence\tlabel\nx\t" + big + "\n", ReadOptions{Labels: LabelScore}, "bad label"},
		{"k.jsonl", `{"` + strings.Repeat("k", 200000) + `": "x"}` + "\n", ReadOptions{}, "no known text field"},
		{"c.tsv", "sentence\tlabel\nx\t1\n", ReadOptions{TextColumns: []string{big}}, "not in the header"},
	}
	for _, c := range cases {
		_, err := ReadDatasetFrom(strings.NewReader(c.file), c.name, c.opts)
		checkShortMessage(t, c.name, err, c.want, "bytes)")
	}
}

func TestQuotePrefix(t *testing.T) {
	if got := QuotePrefix("a\tb"); got != `"a\tb"` {
		t.Errorf("short: %s", got)
	}
	s := strings.Repeat("é", 100) // 200 bytes: the cut must not split a character
	got := QuotePrefix(s)
	if !strings.HasPrefix(got, `"`+strings.Repeat("é", 40)+`"...`) || !strings.HasSuffix(got, "(200 bytes)") {
		t.Errorf("long: %s", got)
	}
}

// TestJSONErrorsAreShort: a JSON decoder error that quotes the input (a huge number
// literal) is cut in the message.
func TestJSONErrorsAreShort(t *testing.T) {
	huge := strings.Repeat("9", 100000)
	for _, line := range []string{
		`{"input_ids": [` + huge + `]}`,
		`{"sentence": "x", "label": 1}` + "\n" + `{"sentence": ` + huge + `, "label": 1}`,
	} {
		_, err := ReadDatasetFrom(strings.NewReader(line+"\n"), "h.jsonl", ReadOptions{})
		checkShortMessage(t, "huge number", err, "h.jsonl:")
	}
}

// TestCSVUnclosedQuote: an unclosed quote makes the rest of a CSV file one record; it stops at
// the cap like a long line, with short lines all the way.
func TestCSVUnclosedQuote(t *testing.T) {
	file := "a,b,1\n\"never closed," + strings.Repeat("short line\n", 300000) // 3.3 MB
	_, err := ReadDatasetFrom(strings.NewReader(file), "q.csv", ReadOptions{})
	checkShortMessage(t, "unclosed quote", err, "q.csv", "after line 1", "unclosed quote")
	// Multi-line records below the cap are fine.
	ok := "a,b,1\n\"two\nlines\",c,2\n"
	if _, err := ReadDatasetFrom(strings.NewReader(ok), "ok.csv", ReadOptions{}); err != nil {
		t.Fatal(err)
	}
}
