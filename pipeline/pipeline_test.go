package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/prune"
)

// TestWriteTokenized prints one JSON line per record, special tokens included, no padding.
func TestWriteTokenized(t *testing.T) {
	tok, err := demo.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "d.tsv")
	if err := os.WriteFile(p, []byte("sentence\tlabel\na fine film\t1\nbad\t0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := data.ReadDataset(p, NoLabels(data.ReadOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteTokenized(context.Background(), &b, tok, ds, 0); err != nil {
		t.Fatal(err)
	}
	want := `{"input_ids":[2,33,973,204,3],"attention_mask":[1,1,1,1,1],"token_type_ids":[0,0,0,0,0]}` + "\n" +
		`{"input_ids":[2,913,3],"attention_mask":[1,1,1],"token_type_ids":[0,0,0]}` + "\n"
	if got := b.String(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestSeqLenError: a MaxLen above the demo model's position table is an error naming the
// setting, unless FitMaxLen lowers it.
func TestSeqLenError(t *testing.T) {
	lm, err := demo.LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	std, enc, _, _, err := prune.Structure(lm)
	if err != nil {
		t.Fatal(err)
	}
	d := Data{MaxLen: 100000}
	var se *SeqLenError
	if err := d.fit("demo", std, enc); !errors.As(err, &se) || se.Setting != "MaxLen" || se.Seq != 100000 || !strings.HasPrefix(se.Error(), "demo takes at most ") {
		t.Fatalf("got %v", err)
	}
	d.FitMaxLen = true
	if err := d.fit("demo", std, enc); err != nil || d.MaxLen != se.Max {
		t.Fatalf("FitMaxLen: %v, MaxLen %d, want %d", err, d.MaxLen, se.Max)
	}
}

// TestSlowRunAdvice: a long run on more than FastCalibrationTokens tokens is told how long
// that many would take (time scales with tokens); short runs and small sets get no advice.
func TestSlowRunAdvice(t *testing.T) {
	j := &Prune{CalibSet: &data.CalibSet{Stats: data.Stats{Tokens: 100000}}}
	adv := j.SlowRunAdvice()
	if adv == nil {
		t.Fatal("no advice for 100,000 tokens")
	}
	if got := adv(30 * time.Minute); !strings.Contains(got, "100000 calibration tokens; --tokens 20000 would take about 6 min") {
		t.Fatalf("30 min on 100,000 tokens: %q", got)
	}
	if got := adv(9 * time.Minute); got != "" {
		t.Fatalf("9 min: %q, want no advice", got)
	}
	j.CalibSet.Stats.Tokens = FastCalibrationTokens
	if j.SlowRunAdvice() != nil {
		t.Fatal("advice for a set of FastCalibrationTokens tokens")
	}
	if (&Prune{}).SlowRunAdvice() != nil {
		t.Fatal("advice before Load")
	}
}
