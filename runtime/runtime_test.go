package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/runtime"
)

type goldenRecord struct {
	Label int     `json:"label"`
	IDs   []int64 `json:"input_ids"`
}

func readGolden(t *testing.T, path string) []goldenRecord {
	t.Helper()
	return testutil.ReadJSONL[goldenRecord](t, path)
}

// batchInputs pads ids to the longest row and builds the three BERT inputs.
func batchInputs(rows [][]int64) map[string]*runtime.Tensor {
	maxLen := 0
	for _, r := range rows {
		maxLen = max(maxLen, len(r))
	}
	n := len(rows) * maxLen
	ids, mask, tt := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, r := range rows {
		for j, v := range r {
			ids[i*maxLen+j] = v
			mask[i*maxLen+j] = 1
		}
	}
	shape := []int64{int64(len(rows)), int64(maxLen)}
	return map[string]*runtime.Tensor{
		"input_ids":      runtime.I64Tensor(shape, ids),
		"attention_mask": runtime.I64Tensor(shape, mask),
		"token_type_ids": runtime.I64Tensor(shape, tt),
	}
}

func accuracy(t *testing.T, s *runtime.Session, recs []goldenRecord, remap func(int64) int64) int {
	t.Helper()
	correct := 0
	for start := 0; start < len(recs); start += 64 {
		end := min(start+64, len(recs))
		var rows [][]int64
		for _, r := range recs[start:end] {
			row := append([]int64{}, r.IDs...)
			if remap != nil {
				for k := range row {
					row[k] = remap(row[k])
				}
			}
			rows = append(rows, row)
		}
		out, err := s.Run(context.Background(), batchInputs(rows))
		if err != nil {
			t.Fatal(err)
		}
		logits := out[0].F32
		for i, r := range recs[start:end] {
			pred := 0
			if logits[2*i+1] > logits[2*i] {
				pred = 1
			}
			if pred == r.Label {
				correct++
			}
		}
	}
	return correct
}

func TestTinyBertSST2Accuracy(t *testing.T) {
	modelPath := testutil.Shared(t, "models/tiny-bert-sst2/model.onnx")
	recs := readGolden(t, testutil.Shared(t, "data/golden/tokenizer/sst2_dev.bert-base-uncased.jsonl"))
	m, err := onnx.Load(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := accuracy(t, s, recs, nil); got != 704 || len(recs) != 872 {
		t.Fatalf("tiny-bert-sst2: %d/%d correct, want 704/872", got, len(recs))
	}
}

func readVocab(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// TestDemoModelAccuracy runs the built-in demo model (sliced vocabulary) on the golden ids remapped
// from bert-base-uncased ids to the demo vocabulary through the two vocab files.
func TestDemoModelAccuracy(t *testing.T) {
	recs := readGolden(t, testutil.Shared(t, "data/golden/tokenizer/sst2_dev.bert-base-uncased.jsonl"))
	full := readVocab(t, testutil.Shared(t, "data/tokenizers/bert-base-uncased/vocab.txt"))
	demo := readVocab(t, filepath.Join(testutil.RepoRoot(), "demo", "vocab.txt"))
	demoID := map[string]int64{}
	for i, w := range demo {
		demoID[w] = int64(i)
	}
	var missing []string
	remap := func(id int64) int64 {
		v, ok := demoID[full[id]]
		if !ok {
			missing = append(missing, full[id])
		}
		return v
	}
	m, err := onnx.Load(filepath.Join(testutil.RepoRoot(), "demo", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := accuracy(t, s, recs, remap)
	if len(missing) > 0 {
		t.Fatalf("%d golden tokens missing from the demo vocabulary, e.g. %q", len(missing), missing[0])
	}
	if got != 704 {
		t.Fatalf("demo model: %d/872 correct, want 704", got)
	}
}

// TestIntermediateOutputs fetches every layer's FFN activation (the input of each second FFN
// MatMul, found as the output of Erf-GELU chains: here, inputs of MatMul nodes fed by Mul) in the
// same run as the logits, and checks the logits are unchanged.
func TestIntermediateOutputs(t *testing.T) {
	modelPath := testutil.Shared(t, "models/tiny-bert-sst2/model.onnx")
	m, err := onnx.Load(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	producer := map[string]*onnx.NodeProto{}
	for _, n := range m.GetGraph().GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
	}
	var acts []string
	for _, n := range m.GetGraph().GetNode() {
		if n.GetOpType() == "MatMul" {
			if p := producer[n.GetInput()[0]]; p != nil && p.GetOpType() == "Mul" {
				acts = append(acts, n.GetInput()[0])
			}
		}
	}
	if len(acts) != 2 {
		t.Fatalf("found %d GELU outputs feeding a MatMul, want 2 (one per layer)", len(acts))
	}
	plain, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	withActs, err := runtime.NewSession(m, runtime.Options{Outputs: append([]string{"logits"}, acts...)})
	if err != nil {
		t.Fatal(err)
	}
	defer withActs.Close()
	in := batchInputs([][]int64{{101, 2009, 1005, 1055, 1037, 11951, 102}, {101, 4895, 102}})
	a, err := plain.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := withActs.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 3 {
		t.Fatalf("got %d outputs, want 3", len(b))
	}
	for i := range a[0].F32 {
		if a[0].F32[i] != b[0].F32[i] {
			t.Fatalf("logits differ when intermediate outputs are fetched: %v vs %v", a[0].F32, b[0].F32)
		}
	}
	for _, act := range b[1:] {
		if want := []int64{2, 7, 512}; len(act.Shape) != 3 || act.Shape[0] != 2 || act.Shape[1] != 7 || act.Shape[2] != 512 {
			t.Fatalf("activation %s has shape %v, want %v", act.Name, act.Shape, want)
		}
	}
}

func TestRunErrors(t *testing.T) {
	modelPath := testutil.Shared(t, "models/tiny-bert-sst2/model.onnx")
	m, err := onnx.Load(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := batchInputs([][]int64{{101, 102}})
	delete(in, "token_type_ids")
	if _, err := s.Run(context.Background(), in); err == nil || !strings.Contains(err.Error(), "token_type_ids") {
		t.Fatalf("missing input: got %v, want an error naming token_type_ids", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, batchInputs([][]int64{{101, 102}})); err == nil {
		t.Fatal("cancelled context: want an error")
	}
	if _, err := runtime.NewSession(m, runtime.Options{Provider: "tpu"}); err == nil || !strings.Contains(err.Error(), "tpu") {
		t.Fatalf("unknown provider: got %v", err)
	}
}

func TestSummarize(t *testing.T) {
	st := runtime.Summarize([]time.Duration{5, 1, 3, 2, 4})
	if st.Min != 1 || st.Max != 5 || st.Mean != 3 || st.P50 != 3 || st.Runs != 5 {
		t.Fatalf("summary %+v", st)
	}
}

func TestMeasureInterleaved(t *testing.T) {
	m, err := onnx.Decode(demoModelBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	var sess []*runtime.Session
	for i := 0; i < 2; i++ {
		s, err := runtime.NewSession(m, runtime.Options{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sess = append(sess, s)
	}
	stats, err := runtime.MeasureInterleaved(context.Background(), sess, batchInputs([][]int64{{101, 2009, 102}, {101, 102, 0}}), 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 2 || stats[0].Runs != 4 || stats[1].Runs != 4 || stats[0].Min <= 0 || stats[0].Min > stats[0].Max {
		t.Fatalf("stats %+v", stats)
	}
	if _, err := runtime.MeasureInterleaved(context.Background(), sess, nil, 0, 0); err == nil {
		t.Fatal("zero runs: want an error")
	}
}

func demoModelBytes(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "demo", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
