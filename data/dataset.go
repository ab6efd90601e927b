package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Format is the format of a dataset file.
type Format string

// Dataset formats. FormatAuto detects the format from the file extension.
const (
	FormatAuto  Format = ""
	FormatTSV   Format = "tsv"   // tab-separated, no quoting (GLUE style)
	FormatCSV   Format = "csv"   // comma-separated with RFC 4180 quoting
	FormatJSONL Format = "jsonl" // one JSON object per line
)

// ParseFormat parses a format name: "tsv", "csv", "jsonl" (or "json", "ndjson"), or ""
// / "auto" for detection from the extension.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "tsv":
		return FormatTSV, nil
	case "csv":
		return FormatCSV, nil
	case "jsonl", "json", "ndjson":
		return FormatJSONL, nil
	}
	return FormatAuto, fmt.Errorf("unknown data format %q (want tsv, csv or jsonl)", s)
}

// DetectFormat returns the format implied by the extension of path: .tsv, .csv, or
// .jsonl/.ndjson/.json (read as JSON lines). A trailing .gz is not supported.
func DetectFormat(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".tsv":
		return FormatTSV, nil
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL, nil
	}
	return FormatAuto, fmt.Errorf("cannot tell the format of %s from its extension; name it .tsv, .csv or .jsonl or set the format (ReadOptions.Format; --format tsv|csv|jsonl on the kprune command line)", path)
}

// Header says whether a TSV or CSV file starts with a header row.
type Header int

// ParseList parses a comma-separated list of column or label names (ReadOptions.TextColumns,
// LabelNames) as a command line gives it: items trimmed, empty items dropped, nil for none.
func ParseList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// ParseHeader parses a header mode: "auto" (or ""), "yes"/"true", "no"/"false".
func ParseHeader(s string) (Header, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return HeaderAuto, nil
	case "yes", "true":
		return HeaderYes, nil
	case "no", "false":
		return HeaderNo, nil
	}
	return HeaderAuto, fmt.Errorf("unknown header mode %q (want auto, yes or no)", s)
}

// Header modes. HeaderAuto means yes for TSV (GLUE files have one) and no for CSV
// (STS-B CSV files have none).
const (
	HeaderAuto Header = iota
	HeaderYes
	HeaderNo
)

// LabelKind says what the label column holds.
type LabelKind int

// Label kinds.
const (
	// LabelAuto decides from the data: non-numeric labels are class names, integers are
	// class ids, other numbers are regression scores.
	LabelAuto LabelKind = iota
	// LabelNone ignores labels (no label column is read).
	LabelNone
	// LabelClass reads classification labels: non-negative integer ids, or strings
	// mapped to ids (through ReadOptions.LabelNames, or in sorted order).
	LabelClass
	// LabelScore reads regression scores (finite floats).
	LabelScore
)

// String returns "auto", "none", "class" or "score".
func (k LabelKind) String() string {
	switch k {
	case LabelAuto:
		return "auto"
	case LabelNone:
		return "none"
	case LabelClass:
		return "class"
	case LabelScore:
		return "score"
	}
	return fmt.Sprintf("LabelKind(%d)", int(k))
}

// NoColumn as ReadOptions.LabelColumn means the data has no label column.
const NoColumn = "-"

// ReadOptions configures [ReadDataset]. The zero value reads GLUE-style files with
// their conventional columns.
type ReadOptions struct {
	// Format of the file; FormatAuto detects it from the extension.
	Format Format
	// Header says whether a TSV/CSV file has a header row (ignored for JSONL).
	Header Header
	// TextColumns selects one text column, or two for sentence pairs, by header name
	// (or JSONL field name) or by 0-based index. Empty means the GLUE conventions:
	// the first of sentence1+sentence2, text_a+text_b, question1+question2,
	// question+sentence, premise+hypothesis, #1 String+#2 String (MRPC), sentence, text, text_a
	// found in the header;
	// for a JSONL file whose first object has "input_ids", the pre-tokenised fields; for a
	// file without header, columns 0 (1 field), 0 (2 fields) or 0 and 1 (3 or more fields).
	TextColumns []string
	// LabelColumn selects the label column by name or index; NoColumn ("-") means none.
	// Empty means the first of "label", "score", "is_duplicate" (QQP), "gold_label" (MNLI), "Quality"
	// (MRPC) in the header, and for a file without header
	// the last column when it is not a text column.
	LabelColumn string
	// Labels says how to read the label column.
	Labels LabelKind
	// LabelNames, if set, fixes the class ids of string labels: LabelNames[i] is class i.
	// Labels not in the list are errors. Without it string labels get ModelLabels' ids, else
	// ids in sorted order.
	LabelNames []string
	// ModelLabels are the model's class names by id (its config.json's id2label), if known:
	// string labels get their ids when every label of the file is one of them, compared without
	// regard to case ("entailment" is "ENTAILMENT"); otherwise they are ignored.
	ModelLabels []string
	// MaxLineBytes is the longest line allowed (0: DefaultMaxLineBytes). A longer line, or
	// a NUL byte anywhere (binary data), stops reading with an error naming the line, so
	// that memory stays bounded by one line whatever the input.
	MaxLineBytes int
}

// Record is one example of a dataset.
type Record struct {
	// Line is the 1-based line of the file where the record starts.
	Line int
	// Text holds one text, or two for a sentence pair. Empty for pre-tokenised records.
	Text []string
	// Label is the class id, or -1 when the dataset has no class labels.
	Label int
	// Score is the regression target, or NaN when the dataset has no scores.
	Score float64
	// InputIDs, AttentionMask and TokenTypeIDs hold a pre-tokenised record (JSONL);
	// InputIDs is nil otherwise. The other two may be nil (all ones, all zeros).
	InputIDs, AttentionMask, TokenTypeIDs []int32
}

// Pretokenized reports whether the record carries token ids instead of text.
func (r *Record) Pretokenized() bool { return r.InputIDs != nil }

// Dataset is the content of one data file.
type Dataset struct {
	// Source is the file name.
	Source string
	// Format is the format the file was read as.
	Format Format
	// TextColumns are the text columns used (header or field names, or "#i" for index
	// i); nil for pre-tokenised data.
	TextColumns []string
	// LabelColumn is the label column used ("" if none).
	LabelColumn string
	// Labels is the resolved label kind: LabelNone, LabelClass or LabelScore.
	Labels LabelKind
	// LabelNames are the class names by id, for string labels; nil for integer labels.
	LabelNames []string
	// NumClasses is the number of classes (largest id + 1) for LabelClass, else 0.
	NumClasses int
	// Records are the examples in file order.
	Records []Record
}

// Len returns the number of records.
func (d *Dataset) Len() int { return len(d.Records) }

// ClassLabels returns the class id of every record (-1 where absent).
func (d *Dataset) ClassLabels() []int {
	out := make([]int, len(d.Records))
	for i := range d.Records {
		out[i] = d.Records[i].Label
	}
	return out
}

// Scores returns the regression score of every record (NaN where absent).
func (d *Dataset) Scores() []float64 {
	out := make([]float64, len(d.Records))
	for i := range d.Records {
		out[i] = d.Records[i].Score
	}
	return out
}

// ReadDataset reads a TSV, CSV or JSONL dataset. Errors about the content name the file
// and line ("FILE:LINE: ...") and quote at most a short, escaped prefix of the file's
// content (see [QuotePrefix]); an empty file, one with a header but no records, one with
// a line longer than ReadOptions.MaxLineBytes and one with binary data are errors.
func ReadDataset(path string, opts ReadOptions) (*Dataset, error) {
	if opts.Format == FormatAuto {
		f, err := DetectFormat(path)
		if err != nil {
			return nil, err
		}
		opts.Format = f
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	defer f.Close()
	return ReadDatasetFrom(f, path, opts)
}

// ReadDatasetFrom is [ReadDataset] reading from r; name is used in messages and, when
// opts.Format is FormatAuto, to detect the format.
func ReadDatasetFrom(r io.Reader, name string, opts ReadOptions) (*Dataset, error) {
	if opts.Format == FormatAuto {
		f, err := DetectFormat(name)
		if err != nil {
			return nil, err
		}
		opts.Format = f
	}
	if len(opts.TextColumns) > 2 {
		return nil, fmt.Errorf("read dataset %s: %d text columns given; want 1, or 2 for sentence pairs", name, len(opts.TextColumns))
	}
	if opts.Labels < LabelAuto || opts.Labels > LabelScore {
		return nil, fmt.Errorf("read dataset %s: invalid label kind %d", name, int(opts.Labels))
	}
	maxLine := opts.MaxLineBytes
	if maxLine < 0 {
		return nil, fmt.Errorf("read dataset %s: negative MaxLineBytes %d", name, maxLine)
	}
	if maxLine == 0 {
		maxLine = DefaultMaxLineBytes
	}
	lim := newLineLimitReader(r, name, maxLine)
	br := bufio.NewReaderSize(lim, 64<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
		_, _ = br.Discard(3)
	}
	ds := &Dataset{Source: name, Format: opts.Format}
	var raws []rawLabel
	var err error
	switch opts.Format {
	case FormatTSV, FormatCSV:
		raws, err = readDelimited(br, lim, ds, opts)
	case FormatJSONL:
		raws, err = readJSONL(br, ds, opts)
	default:
		return nil, fmt.Errorf("read dataset %s: unknown format %q", name, opts.Format)
	}
	if err != nil {
		return nil, err
	}
	if err := resolveLabels(ds, raws, opts); err != nil {
		return nil, err
	}
	return ds, nil
}

// rawLabel is a label as found in the file, resolved once the whole file is read.
type rawLabel struct {
	s      string
	quoted bool // a JSON string (never a number)
}

var (
	// GLUE's original files: MNLI/RTE/WNLI/STS-B (sentence1, sentence2), QQP (question1,
	// question2), QNLI (question, sentence), MRPC (#1 String, #2 String).
	defaultPairColumns   = [][]string{{"sentence1", "sentence2"}, {"text_a", "text_b"}, {"question1", "question2"}, {"question", "sentence"}, {"premise", "hypothesis"}, {"#1 String", "#2 String"}}
	defaultSingleColumns = []string{"sentence", "text", "text_a"}
	// label/score, then QQP's is_duplicate, MNLI's gold_label and MRPC's Quality.
	defaultLabelColumns = []string{"label", "score", "is_duplicate", "gold_label", "Quality"}
)

// defaultTextColumns picks the GLUE-convention text columns among names.
func defaultTextColumns(has func(string) bool) []string {
	for _, p := range defaultPairColumns {
		if has(p[0]) && has(p[1]) {
			return []string{p[0], p[1]}
		}
	}
	for _, s := range defaultSingleColumns {
		if has(s) {
			return []string{s}
		}
	}
	return nil
}

// readDelimited reads TSV or CSV rows into ds and returns the raw labels. lim is the reader
// under br, which bounds CSV records too.
func readDelimited(br *bufio.Reader, lim *lineLimitReader, ds *Dataset, opts ReadOptions) ([]rawLabel, error) {
	name := ds.Source
	var next rowReader
	if opts.Format == FormatTSV {
		next = tsvRows(br, name)
	} else {
		next = csvRows(br, lim, name)
	}
	hasHeader := opts.Header == HeaderYes || (opts.Header == HeaderAuto && opts.Format == FormatTSV)
	first, firstLine, err := next()
	if errors.Is(err, io.EOF) {
		return nil, badData(name, 0, "empty file")
	}
	if err != nil {
		return nil, err
	}
	cols := &columns{file: name, nFields: len(first)}
	pending := first // first data row, when there is no header
	if hasHeader {
		if err := cols.setHeader(first, firstLine, opts.Format); err != nil {
			return nil, err
		}
		pending = nil
	}
	if err := cols.selectText(ds, opts); err != nil {
		return nil, err
	}
	if err := cols.selectLabel(ds, opts); err != nil {
		return nil, err
	}
	return cols.readRows(next, pending, firstLine, ds)
}

// rowReader returns the next row's fields and line, or io.EOF at the end.
type rowReader func() ([]string, int, error)

// tsvRows reads tab-separated rows from br, skipping blank lines.
func tsvRows(br *bufio.Reader, name string) rowReader {
	line := 0
	return func() ([]string, int, error) {
		for {
			s, err := br.ReadString('\n')
			if de, ok := asDataError(err); ok {
				return nil, 0, de
			}
			if s == "" && err != nil {
				if errors.Is(err, io.EOF) {
					return nil, 0, io.EOF
				}
				return nil, 0, fmt.Errorf("%s: %w", name, err)
			}
			line++
			s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
			if s == "" {
				continue
			}
			return strings.Split(s, "\t"), line, nil
		}
	}
}

// csvRows reads RFC 4180 records from br; lim, the reader under br, bounds each record.
func csvRows(br *bufio.Reader, lim *lineLimitReader, name string) rowReader {
	cr := newCSVReader(br)
	lim.recordMax = lim.max + recordSlack
	return func() ([]string, int, error) {
		rec, err := cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, 0, io.EOF
			}
			return nil, 0, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		lim.record(line)
		return rec, line, nil
	}
}

// columns is the layout of a delimited file: its header (nil without) and field count, and the
// columns selected as text and label.
type columns struct {
	file     string
	header   []string
	nFields  int
	textIdx  []int
	labelIdx int // -1: no label column
}

// setHeader takes row (read at line) as the header, its names trimmed.
func (c *columns) setHeader(row []string, line int, format Format) error {
	for i, h := range row {
		if !isValidUTF8(h) {
			return badData(c.file, line, "the header is not UTF-8 text (is this a %s file?)", format)
		}
		row[i] = strings.TrimSpace(h)
	}
	c.header = row
	return nil
}

// col resolves a column given by header name or 0-based index (role names it in errors) to its
// index and the name it goes by ("#i" without a header).
func (c *columns) col(spec, role string) (int, string, error) {
	if c.header != nil {
		if i := slices.Index(c.header, spec); i >= 0 {
			return i, spec, nil
		}
	}
	if i, err := strconv.Atoi(spec); err == nil {
		if i < 0 || i >= c.nFields {
			return 0, "", badData(c.file, 0, "%s column %d out of range: the file has %d columns", role, i, c.nFields)
		}
		if c.header != nil {
			return i, c.header[i], nil
		}
		return i, "#" + spec, nil
	}
	if c.header == nil {
		return 0, "", badData(c.file, 0, "%s column %s: the file has no header, select columns by 0-based index", role, QuotePrefix(spec))
	}
	return 0, "", badData(c.file, 0, "%s column %s not in the header (%s)", role, QuotePrefix(spec), quoteList(c.header))
}

// selectText selects the text columns: opts.TextColumns, else the GLUE-convention names in the
// header, else the first one (two with three columns or more) without a header.
func (c *columns) selectText(ds *Dataset, opts ReadOptions) error {
	textSpecs := opts.TextColumns
	if len(textSpecs) == 0 {
		if c.header != nil {
			textSpecs = defaultTextColumns(func(s string) bool { return slices.Contains(c.header, s) })
			if textSpecs == nil {
				return badData(c.file, 0, "no known text column in the header (%s); select the text columns", quoteList(c.header))
			}
		} else if c.nFields >= 3 {
			textSpecs = []string{"0", "1"}
		} else {
			textSpecs = []string{"0"}
		}
	}
	for _, spec := range textSpecs {
		i, n, err := c.col(spec, "text")
		if err != nil {
			return err
		}
		c.textIdx = append(c.textIdx, i)
		ds.TextColumns = append(ds.TextColumns, n)
	}
	return nil
}

// selectLabel selects the label column, if any: opts.LabelColumn, else a conventional name in
// the header, else the last column without a header when it is not a text column.
func (c *columns) selectLabel(ds *Dataset, opts ReadOptions) error {
	c.labelIdx = -1
	if opts.Labels == LabelNone || opts.LabelColumn == NoColumn {
		return nil
	}
	switch {
	case opts.LabelColumn != "":
		i, n, err := c.col(opts.LabelColumn, "label")
		if err != nil {
			return err
		}
		c.labelIdx, ds.LabelColumn = i, n
	case c.header != nil:
		for _, l := range defaultLabelColumns {
			if i := slices.Index(c.header, l); i >= 0 && !slices.Contains(c.textIdx, i) {
				c.labelIdx, ds.LabelColumn = i, l
				break
			}
		}
	case c.nFields > len(c.textIdx) && !slices.Contains(c.textIdx, c.nFields-1):
		c.labelIdx, ds.LabelColumn = c.nFields-1, "#"+strconv.Itoa(c.nFields-1)
	}
	if c.labelIdx >= 0 && slices.Contains(c.textIdx, c.labelIdx) {
		return badData(c.file, 0, "column %s is both a text and the label column", QuotePrefix(ds.LabelColumn))
	}
	return nil
}

// readRows reads the data rows into ds (pending, at pendingLine, first when it is not nil) and
// returns their raw labels.
func (c *columns) readRows(next rowReader, pending []string, pendingLine int, ds *Dataset) ([]rawLabel, error) {
	var raws []rawLabel
	for {
		fields, line := pending, pendingLine
		if fields == nil {
			var err error
			fields, line, err = next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
		}
		pending = nil
		if len(fields) != c.nFields {
			what := "the header"
			if c.header == nil {
				what = "the first row"
			}
			return nil, badData(c.file, line, "row has %d fields, %s has %d", len(fields), what, c.nFields)
		}
		rec := Record{Line: line, Label: -1, Score: math.NaN(), Text: make([]string, len(c.textIdx))}
		for k, i := range c.textIdx {
			if !isValidUTF8(fields[i]) {
				return nil, badData(c.file, line, "invalid UTF-8 in column %s (convert the file to UTF-8)", QuotePrefix(ds.TextColumns[k]))
			}
			rec.Text[k] = fields[i]
		}
		ds.Records = append(ds.Records, rec)
		if c.labelIdx >= 0 {
			raws = append(raws, rawLabel{s: strings.TrimSpace(fields[c.labelIdx])})
		}
	}
	if len(ds.Records) == 0 {
		return nil, badData(c.file, 0, "no records after the header")
	}
	return raws, nil
}

// resolveLabels turns the raw labels into class ids or scores (see LabelKind).
func resolveLabels(ds *Dataset, raws []rawLabel, opts ReadOptions) error {
	if ds.LabelColumn == "" || opts.Labels == LabelNone {
		ds.Labels, ds.LabelColumn = LabelNone, ""
		return nil
	}
	for i, r := range raws {
		if r.s == "" {
			return badData(ds.Source, ds.Records[i].Line, "empty label")
		}
	}
	parseNum := func(i int) (float64, error) {
		if raws[i].quoted {
			return 0, badData(ds.Source, ds.Records[i].Line, "bad label %s: expected a number", QuotePrefix(raws[i].s))
		}
		v, err := strconv.ParseFloat(raws[i].s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, badData(ds.Source, ds.Records[i].Line, "bad label %s: expected a number", QuotePrefix(raws[i].s))
		}
		return v, nil
	}

	if opts.Labels == LabelScore {
		ds.Labels = LabelScore
		for i := range raws {
			v, err := parseNum(i)
			if err != nil {
				return err
			}
			ds.Records[i].Score = v
		}
		return nil
	}

	ds.Labels = LabelClass
	if opts.LabelNames != nil {
		ids := make(map[string]int, len(opts.LabelNames))
		for i, n := range opts.LabelNames {
			ids[n] = i
		}
		for i, r := range raws {
			id, ok := ids[r.s]
			if !ok {
				return badData(ds.Source, ds.Records[i].Line, "bad label %s: not one of %s", QuotePrefix(r.s), quoteList(opts.LabelNames))
			}
			ds.Records[i].Label = id
		}
		ds.LabelNames = slices.Clone(opts.LabelNames)
		ds.NumClasses = len(opts.LabelNames)
		return nil
	}

	if _, err := parseNum(0); err == nil { // numeric labels
		vals := make([]float64, len(raws))
		integral := true
		for i := range raws {
			v, err := parseNum(i)
			if err != nil {
				return err
			}
			vals[i] = v
			if _, err := strconv.Atoi(raws[i].s); err != nil {
				integral = false
				if opts.Labels == LabelClass {
					return badData(ds.Source, ds.Records[i].Line, "bad label %s: class labels must be integers", QuotePrefix(raws[i].s))
				}
			}
		}
		if !integral { // LabelAuto with non-integer numbers
			ds.Labels = LabelScore
			for i, v := range vals {
				ds.Records[i].Score = v
			}
			return nil
		}
		for i, v := range vals {
			if v < 0 || v >= 1<<31 {
				return badData(ds.Source, ds.Records[i].Line, "bad label %s: class ids must be non-negative", QuotePrefix(raws[i].s))
			}
			ds.Records[i].Label = int(v)
			ds.NumClasses = max(ds.NumClasses, int(v)+1)
		}
		return nil
	}

	if ids, ok := labelIDs(raws, opts.ModelLabels); ok {
		for i, r := range raws {
			ds.Records[i].Label = ids[strings.ToLower(r.s)]
		}
		ds.LabelNames, ds.NumClasses = slices.Clone(opts.ModelLabels), len(opts.ModelLabels)
		return nil
	}

	// String class names, ids in sorted order.
	set := map[string]int{}
	for _, r := range raws {
		set[r.s] = 0
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		set[n] = i
	}
	for i, r := range raws {
		ds.Records[i].Label = set[r.s]
	}
	ds.LabelNames, ds.NumClasses = names, len(names)
	return nil
}

// labelIDs maps the lower-cased names of a model's classes to their ids, and reports whether
// every raw label is one of them (false when names is empty or two names differ only by case).
func labelIDs(raws []rawLabel, names []string) (map[string]int, bool) {
	if len(names) == 0 {
		return nil, false
	}
	ids := make(map[string]int, len(names))
	for i, n := range names {
		k := strings.ToLower(n)
		if _, dup := ids[k]; dup {
			return nil, false
		}
		ids[k] = i
	}
	for _, r := range raws {
		if _, ok := ids[strings.ToLower(r.s)]; !ok {
			return nil, false
		}
	}
	return ids, true
}

// EncodeRecord tokenizes one record: one text with tok.Encode, two with tok.EncodePair.
// A pre-tokenised record is returned as is (tok may then be nil); it is an error if it
// is longer than maxLen (> 0), since cutting it would drop its final special token.
func EncodeRecord(tok *Tokenizer, r *Record, maxLen int) (Encoding, error) {
	if r.Pretokenized() {
		if maxLen > 0 && len(r.InputIDs) > maxLen {
			return Encoding{}, fmt.Errorf("pre-tokenised record has %d tokens, more than the max length %d", len(r.InputIDs), maxLen)
		}
		return Encoding{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs, AttentionMask: r.AttentionMask}, nil
	}
	if tok == nil {
		return Encoding{}, errors.New("record has text but no tokenizer was given: pass one (tokenizer.json or vocab.txt; kprune looks next to the model too) or give token ids (JSONL input_ids)")
	}
	switch len(r.Text) {
	case 1:
		return tok.Encode(r.Text[0], maxLen)
	case 2:
		return tok.EncodePair(r.Text[0], r.Text[1], maxLen)
	}
	return Encoding{}, fmt.Errorf("record has %d texts; want 1 or 2", len(r.Text))
}

// EncodeDataset tokenizes every record of ds (see [EncodeRecord]); errors name the
// record's file and line.
func EncodeDataset(tok *Tokenizer, ds *Dataset, maxLen int) ([]Encoding, error) {
	out := make([]Encoding, len(ds.Records))
	for i := range ds.Records {
		enc, err := EncodeRecord(tok, &ds.Records[i], maxLen)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", ds.Source, ds.Records[i].Line, err)
		}
		out[i] = enc
	}
	return out, nil
}
