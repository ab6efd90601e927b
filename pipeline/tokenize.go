package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/kprune/kprune/data"
)

// WriteTokenized tokenizes every record of ds with tok, truncated to limit tokens (0: the
// tokenizer file's setting, if any), and writes one JSON line per record to w:
// {"input_ids":[...],"attention_mask":[...],"token_type_ids":[...]}, exactly as the model would
// receive them (special tokens included, no padding). token_type_ids is left out for tokenizers
// whose type ids are all 0 (RoBERTa, XLM-R, T5: their models have no such input).
func WriteTokenized(ctx context.Context, w io.Writer, tok *data.Tokenizer, ds *data.Dataset, limit int) error {
	if limit == 0 {
		limit = tok.MaxLen()
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 4096)
	types := tok.UsesTypeIDs()
	for i := range ds.Records {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec := &ds.Records[i]
		enc, err := data.EncodeRecord(tok, rec, limit)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", ds.Source, rec.Line, err)
		}
		buf = appendJSON(buf[:0], enc, types || enc.TypeIDs != nil && rec.Pretokenized())
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// appendJSON appends {"input_ids":[...],"attention_mask":[...]} and a newline to b,
// with "token_type_ids" before the closing brace if types is set.
func appendJSON(b []byte, enc data.Encoding, types bool) []byte {
	b = append(b, `{"input_ids":`...)
	b = appendInts(b, enc.IDs, len(enc.IDs), 0)
	b = append(b, `,"attention_mask":`...)
	b = appendInts(b, enc.AttentionMask, len(enc.IDs), 1)
	if types {
		b = append(b, `,"token_type_ids":`...)
		b = appendInts(b, enc.TypeIDs, len(enc.IDs), 0)
	}
	return append(b, "}\n"...)
}

// appendInts appends a JSON array of n values: vals[i], or def past the end of vals
// (a nil vals means def everywhere).
func appendInts(b []byte, vals []int32, n int, def int32) []byte {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		v := def
		if i < len(vals) {
			v = vals[i]
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return append(b, ']')
}
