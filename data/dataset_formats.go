package data

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// newCSVReader returns an RFC 4180 reader; field counts are checked by the caller so
// that the message names the header.
func newCSVReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	return cr
}

// csvError turns an encoding/csv error into a "FILE:LINE: ..." error.
func csvError(name string, err error) error {
	if ie, ok := asDataError(err); ok {
		return ie
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if pe.Line != pe.StartLine {
			return badData(name, pe.StartLine, "malformed CSV record (error at line %d, column %d): %w", pe.Line, pe.Column, pe.Err)
		}
		return badData(name, pe.StartLine, "malformed CSV record (column %d): %w", pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func isValidUTF8(s string) bool { return utf8.ValidString(s) }

// readJSONL reads one JSON object per line into ds and returns the raw labels. Blank
// lines are skipped.
func readJSONL(br *bufio.Reader, ds *Dataset, opts ReadOptions) ([]rawLabel, error) {
	name := ds.Source
	var (
		raws       []rawLabel
		textFields []string
		pretok     bool
		labelField string
		decided    bool
		line       int
	)
	for {
		s, err := br.ReadString('\n')
		if ie, ok := asDataError(err); ok {
			return nil, ie
		}
		if s == "" && err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line++
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &obj); err != nil {
			return nil, badData(name, line, "invalid JSON line: %s", shortError(err))
		}
		if obj == nil {
			return nil, badData(name, line, "expected a JSON object, got null")
		}
		if !decided {
			decided = true
			has := func(k string) bool { _, ok := obj[k]; return ok }
			switch {
			case len(opts.TextColumns) > 0:
				for _, c := range opts.TextColumns {
					if _, err := strconv.Atoi(c); err == nil && !has(c) {
						return nil, badData(name, line, "text column %s: select JSONL fields by name, not index", QuotePrefix(c))
					}
				}
				textFields = opts.TextColumns
			case has("input_ids"):
				pretok = true
			default:
				textFields = defaultTextColumns(has)
				if textFields == nil {
					keys := make([]string, 0, len(obj))
					for k := range obj {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					return nil, badData(name, line, "no known text field (have %s); select the text fields", quoteList(keys))
				}
			}
			if opts.Labels != LabelNone && opts.LabelColumn != NoColumn {
				if opts.LabelColumn != "" {
					labelField = opts.LabelColumn
				} else {
					for _, l := range defaultLabelColumns {
						if has(l) && !slices.Contains(textFields, l) {
							labelField = l
							break
						}
					}
				}
				if slices.Contains(textFields, labelField) {
					return nil, badData(name, 0, "field %s is both a text and the label field", QuotePrefix(labelField))
				}
			}
			ds.TextColumns = slices.Clone(textFields)
			ds.LabelColumn = labelField
		}

		rec := Record{Line: line, Label: -1, Score: math.NaN()}
		if pretok {
			if err := parsePretokenized(obj, &rec); err != nil {
				return nil, &DataError{File: name, Line: line, Err: err}
			}
		} else {
			rec.Text = make([]string, len(textFields))
			for k, f := range textFields {
				raw, ok := obj[f]
				if !ok {
					return nil, badData(name, line, "missing text field %s", QuotePrefix(f))
				}
				if err := json.Unmarshal(raw, &rec.Text[k]); err != nil || isNull(raw) {
					return nil, badData(name, line, "field %s is not a string", QuotePrefix(f))
				}
			}
		}
		if labelField != "" {
			raw, ok := obj[labelField]
			if !ok || isNull(raw) {
				return nil, badData(name, line, "missing label field %s", QuotePrefix(labelField))
			}
			var rl rawLabel
			switch raw[0] {
			case '"':
				if err := json.Unmarshal(raw, &rl.s); err != nil {
					return nil, badData(name, line, "label: %s", shortError(err))
				}
				rl.s, rl.quoted = strings.TrimSpace(rl.s), true
			case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				rl.s = string(raw)
			default:
				return nil, badData(name, line, "label field %s must be a number or a string", QuotePrefix(labelField))
			}
			raws = append(raws, rl)
		}
		ds.Records = append(ds.Records, rec)
	}
	if !decided {
		return nil, badData(name, 0, "empty file")
	}
	return raws, nil
}

// parsePretokenized reads input_ids, attention_mask and token_type_ids.
func parsePretokenized(obj map[string]json.RawMessage, rec *Record) error {
	ints := func(field string) ([]int32, error) {
		raw, ok := obj[field]
		if !ok || isNull(raw) {
			return nil, nil
		}
		var v []int32
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("field %q must be an array of int32: %s", field, shortError(err))
		}
		if v == nil {
			v = []int32{}
		}
		for _, x := range v {
			if x < 0 {
				return nil, fmt.Errorf("field %q has negative value %d", field, x)
			}
		}
		return v, nil
	}
	var err error
	if rec.InputIDs, err = ints("input_ids"); err != nil {
		return err
	}
	if len(rec.InputIDs) == 0 {
		return errors.New("missing or empty input_ids")
	}
	if rec.AttentionMask, err = ints("attention_mask"); err != nil {
		return err
	}
	if rec.TokenTypeIDs, err = ints("token_type_ids"); err != nil {
		return err
	}
	n := len(rec.InputIDs)
	if rec.AttentionMask != nil {
		if len(rec.AttentionMask) != n {
			return fmt.Errorf("attention_mask has %d values, input_ids %d", len(rec.AttentionMask), n)
		}
		for _, m := range rec.AttentionMask {
			if m > 1 {
				return fmt.Errorf("attention_mask value %d is not 0 or 1", m)
			}
		}
	}
	if rec.TokenTypeIDs != nil && len(rec.TokenTypeIDs) != n {
		return fmt.Errorf("token_type_ids has %d values, input_ids %d", len(rec.TokenTypeIDs), n)
	}
	return nil
}
