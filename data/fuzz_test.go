package data

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkFuzzMessage fails on an error message that is long, invalid UTF-8 or holds raw control
// characters: user data must only appear as short escaped prefixes.
func checkFuzzMessage(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if len(msg) > 1000 || !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		t.Fatalf("bad error message (%d bytes): %.300q", len(msg), msg)
	}
}

// FuzzReadDataset reads arbitrary bytes as TSV, CSV or JSONL (with and without header, with a
// 4 KiB line cap): never a panic, short printable errors, and consistent records and labels.
func FuzzReadDataset(f *testing.F) {
	seeds := []string{
		"sentence\tlabel\nhello world\t1\nbad film\t0\n",
		"sentence1\tsentence2\tlabel\na\tb\t0.5\nc\td\t4\n",
		"question\tsentence\tlabel\nwhy?\tbecause\tentailment\nhow?\tso\tnot_entailment\n",
		"\xEF\xBB\xBFsentence\tlabel\r\nx\t-1\r\n",
		"a,b,1.0\n\"quoted, with comma\",\"and \"\"quotes\"\"\",2.5\n\"multi\nline\",y,3\n",
		"text,label\n\"unterminated,1\n",
		`{"sentence": "good", "label": 1}` + "\n" + `{"sentence": "bad", "label": 0}` + "\n",
		`{"input_ids": [101, 7592, 102], "attention_mask": [1, 1, 1], "token_type_ids": [0, 0, 0]}` + "\n",
		`{"text_a": "x", "text_b": "y", "score": "3.5"}` + "\n\n" + `{"text_a": "z", "text_b": "w", "score": 1e308}`,
		`{"sentence": null}` + "\n" + `[1,2]` + "\n",
		"\x00\x00\x00",
		strings.Repeat("x", 5000) + "\n",
		"sentence\n\xff\xfe\n",
		"foo\tbar\n1\t2\t3\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i%3), uint8(i%4))
	}
	f.Fuzz(func(t *testing.T, b []byte, format, mode uint8) {
		opts := ReadOptions{Format: []Format{FormatTSV, FormatCSV, FormatJSONL}[format%3], MaxLineBytes: 4096}
		opts.Header = []Header{HeaderAuto, HeaderYes, HeaderNo, HeaderAuto}[mode%4]
		opts.Labels = []LabelKind{LabelAuto, LabelClass, LabelScore, LabelNone}[(mode/4)%4]
		if mode&16 != 0 {
			opts.TextColumns = []string{"0"}
		}
		ds, err := ReadDatasetFrom(bytes.NewReader(b), "fuzz", opts)
		if err != nil {
			checkFuzzMessage(t, err)
			return
		}
		if ds.Len() == 0 {
			t.Fatal("no records and no error")
		}
		last := 0
		for i := range ds.Records {
			r := &ds.Records[i]
			if r.Line < 1 || r.Line < last {
				t.Fatalf("record %d: line %d after %d", i, r.Line, last)
			}
			last = r.Line
			if !r.Pretokenized() && (len(r.Text) < 1 || len(r.Text) > 2) {
				t.Fatalf("record %d has %d texts", i, len(r.Text))
			}
			for _, s := range r.Text {
				if !utf8.ValidString(s) {
					t.Fatalf("record %d: invalid UTF-8 text", i)
				}
			}
			switch ds.Labels {
			case LabelClass:
				if r.Label < 0 || r.Label >= ds.NumClasses {
					t.Fatalf("record %d: class %d of %d", i, r.Label, ds.NumClasses)
				}
			case LabelScore:
				if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
					t.Fatalf("record %d: score %v", i, r.Score)
				}
			case LabelNone:
				if r.Label != -1 {
					t.Fatalf("record %d: label %d without a label column", i, r.Label)
				}
			default:
				t.Fatalf("unresolved label kind %v", ds.Labels)
			}
		}
	})
}

// FuzzReadVocab loads arbitrary bytes as a WordPiece vocab.txt: never a panic; a vocabulary
// that loads tokenizes text and pairs into ids it holds.
func FuzzReadVocab(f *testing.F) {
	f.Add([]byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n"))
	f.Add([]byte("\uFEFF[CLS]\r\n[SEP]\r\n[UNK]\r\n\r\nthe\n##\n##\n"))
	f.Add([]byte("[CLS]\n[SEP]\n"))
	f.Add([]byte(""))
	f.Add([]byte("\x00\n\xff\xfe\n[CLS]\n[SEP]\n[UNK]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ReadVocab(bytes.NewReader(b), "fuzz vocab.txt", DefaultVocabOptions())
		if err != nil {
			return
		}
		lines := bytes.Count(b, []byte("\n")) + 1
		check := func(e Encoding, err error) {
			if err != nil {
				return
			}
			for _, id := range e.IDs {
				if id < 0 || int(id) >= lines {
					t.Fatalf("id %d outside the %d-line vocabulary", id, lines)
				}
			}
		}
		check(tok.Encode("Hello, worlds! [SEP] naïve 漢字 x\x00y", 16))
		check(tok.EncodePair("hello", "world [MASK]", 8))
	})
}
