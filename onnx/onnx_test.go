package onnx_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

var sharedModels = []string{
	"models/tiny-bert-sst2/model.onnx",
	"models/tiny-bert-sst2/model-opset17.onnx",
	"models/tiny-bert-sst2/model-ort-optimized.onnx",
	"models/tiny-bert-sst2/demo/model.onnx",
	"models/bert-l4-sst2/model.onnx",
	"models/bert-l4-sst2/model-opset17.onnx",
}

// TestRoundTripShared checks that every shared model decodes and re-encodes losslessly: the
// re-encoded bytes decode to a message equal to the original, and a second encode is
// byte-identical to the first.
func TestRoundTripShared(t *testing.T) {
	for _, rel := range sharedModels {
		t.Run(filepath.Base(filepath.Dir(rel))+"/"+filepath.Base(rel), func(t *testing.T) {
			path := testutil.Shared(t, rel)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnx.Decode(orig)
			if err != nil {
				t.Fatal(err)
			}
			b1, err := onnx.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := onnx.Decode(b1)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(m, m2) {
				t.Fatal("decode(encode(m)) != m")
			}
			b2, err := onnx.Encode(m2)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b1, b2) {
				t.Fatal("second encode is not byte-identical to the first")
			}
			if len(b1) != len(orig) {
				t.Logf("note: re-encoded size %d vs original %d", len(b1), len(orig))
			}
		})
	}
}

// TestUnknownFieldsPreserved checks that fields our schema does not know survive a round trip.
func TestUnknownFieldsPreserved(t *testing.T) {
	m := tinyModel()
	b, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	// Append field 99 (varint 7) to the model: tag = 99<<3|0.
	b = append(b, 0x98, 0x06, 0x07)
	m2, err := onnx.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := onnx.Encode(m2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b2, []byte{0x98, 0x06, 0x07}) {
		t.Fatal("unknown field 99 was lost on round trip")
	}
}

// tinyModel is a one-node model y = x + c.
func tinyModel() *onnx.ModelProto {
	return &onnx.ModelProto{
		IrVersion:     proto.Int64(8),
		OpsetImport:   []*onnx.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		ProducerName:  proto.String("kprune-test"),
		DocString:     proto.String("doc"),
		MetadataProps: []*onnx.StringStringEntryProto{{Key: proto.String("k"), Value: proto.String("v")}},
		Graph: &onnx.GraphProto{
			Name:        proto.String("g"),
			Node:        []*onnx.NodeProto{onnx.NewNode("Add", "add", []string{"x", "c"}, []string{"y"})},
			Initializer: []*onnx.TensorProto{onnx.NewFloatTensor("c", []int64{4}, make([]float32, 4))},
			Input:       []*onnx.ValueInfoProto{onnx.NewValueInfo("x", onnx.TensorProto_FLOAT, []onnx.Dim{{Value: 4}})},
			Output:      []*onnx.ValueInfoProto{onnx.NewValueInfo("y", onnx.TensorProto_FLOAT, []onnx.Dim{{Value: 4}})},
		},
	}
}

func TestBadInput(t *testing.T) {
	good, err := onnx.Encode(tinyModel())
	if err != nil {
		t.Fatal(err)
	}
	notModel, _ := proto.Marshal(&onnx.TensorProto{Name: proto.String("t"), Dims: []int64{3}})
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "empty", nil},
		{"truncated", "truncated", good[:len(good)/2]},
		{"random", "not", random},
		{"non-onnx protobuf", "ONNX model", notModel},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".onnx")
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := onnx.Load(p)
			if err == nil {
				t.Fatal("want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, p) || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q should be one line naming %s and saying %q", msg, p, c.want)
			}
		})
	}
	if _, err := onnx.Load(filepath.Join(dir, "missing.onnx")); err == nil || !strings.Contains(err.Error(), "missing.onnx") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel()
	w := make([]float32, 1000)
	for i := range w {
		w[i] = float32(i) * 0.5
	}
	m.Graph.Initializer = append(m.Graph.Initializer, onnx.NewFloatTensor("w", []int64{10, 100}, w))
	p := filepath.Join(dir, "m.onnx")
	if err := onnx.Save(p, m, onnx.SaveOptions{ExternalData: true, ExternalThreshold: 64}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p + ".data"); err != nil {
		t.Fatalf("no external data file: %v", err)
	}
	raw, _ := os.ReadFile(p)
	if len(raw) > 1000 {
		t.Fatalf("model file is %d bytes: the weights were not moved out", len(raw))
	}
	if m.Graph.Initializer[1].RawData == nil {
		t.Fatal("Save modified its input model")
	}
	back, err := onnx.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := onnx.Float32s(back.Graph.Initializer[1])
	if err != nil {
		t.Fatal(err)
	}
	for i := range w {
		if got[i] != w[i] {
			t.Fatalf("w[%d] = %v, want %v", i, got[i], w[i])
		}
	}
	// A missing data file is an error naming the tensor and the file.
	os.Remove(p + ".data")
	_, err = onnx.Load(p)
	if err == nil || !strings.Contains(err.Error(), "m.onnx.data") || !strings.Contains(err.Error(), `"w"`) {
		t.Fatalf("missing external data: %v", err)
	}
}

func TestSaveRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.onnx")
	if err := onnx.Save(p, tinyModel(), onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	if err := onnx.Save(p, tinyModel(), onnx.SaveOptions{}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second save: %v, want refusal", err)
	}
	after, _ := os.ReadFile(p)
	if !bytes.Equal(before, after) {
		t.Fatal("file changed after a refused save")
	}
	if err := onnx.Save(filepath.Join(dir, "nope", "m.onnx"), tinyModel(), onnx.SaveOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing folder: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestTensorConversions(t *testing.T) {
	f := []float32{1, -2.5, 3.25, float32(math.Inf(1))}
	ft := onnx.NewFloatTensor("f", []int64{2, 2}, f)
	typed := &onnx.TensorProto{Name: proto.String("g"), Dims: []int64{4}, DataType: proto.Int32(int32(onnx.TensorProto_FLOAT)), FloatData: f}
	d := &onnx.TensorProto{Name: proto.String("d"), Dims: []int64{4}, DataType: proto.Int32(int32(onnx.TensorProto_DOUBLE)), DoubleData: []float64{1, -2.5, 3.25, math.Inf(1)}}
	// float16: 1.0 = 0x3c00, -2.5 = 0xc100, 3.25 = 0x4280, +inf = 0x7c00
	h := &onnx.TensorProto{Name: proto.String("h"), Dims: []int64{4}, DataType: proto.Int32(int32(onnx.TensorProto_FLOAT16)), RawData: []byte{0x00, 0x3c, 0x00, 0xc1, 0x80, 0x42, 0x00, 0x7c}}
	for _, tt := range []*onnx.TensorProto{ft, typed, d, onnx.NewDoubleTensor("dd", []int64{4}, []float64{1, -2.5, 3.25, math.Inf(1)}), h} {
		got, err := onnx.Float32s(tt)
		if err != nil {
			t.Fatalf("%s: %v", tt.GetName(), err)
		}
		for i := range f {
			if got[i] != f[i] {
				t.Fatalf("%s[%d] = %v, want %v", tt.GetName(), i, got[i], f[i])
			}
		}
	}
	i64 := []int64{0, -1, 1 << 40, 7}
	for _, tt := range []*onnx.TensorProto{
		onnx.NewInt64Tensor("i", []int64{4}, i64),
		{Name: proto.String("j"), Dims: []int64{4}, DataType: proto.Int32(int32(onnx.TensorProto_INT64)), Int64Data: i64},
	} {
		got, err := onnx.Int64s(tt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range i64 {
			if got[i] != i64[i] {
				t.Fatalf("%s[%d] = %d", tt.GetName(), i, got[i])
			}
		}
	}
	i32 := &onnx.TensorProto{Name: proto.String("k"), Dims: []int64{2}, DataType: proto.Int32(int32(onnx.TensorProto_INT32)), RawData: []byte{0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0}}
	if got, err := onnx.Int64s(i32); err != nil || got[0] != -1 || got[1] != 5 {
		t.Fatalf("int32 raw: %v %v", got, err)
	}
	bad := onnx.NewFloatTensor("bad", []int64{3}, []float32{1, 2})
	if _, err := onnx.Float32s(bad); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("size mismatch: %v", err)
	}
	if _, err := onnx.Int64s(ft); err == nil {
		t.Fatal("Int64s of a float tensor: want an error")
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := onnx.Encode(tinyModel())
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x07})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := onnx.Decode(b)
		if err != nil {
			return
		}
		out, err := onnx.Encode(m)
		if err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		m2, err := onnx.Decode(out)
		if err != nil {
			t.Fatalf("re-encoded model does not decode: %v", err)
		}
		out2, _ := onnx.Encode(m2)
		if !bytes.Equal(out, out2) {
			t.Fatal("encode is not stable")
		}
		onnx.WalkTensors(m.GetGraph(), func(tp *onnx.TensorProto) {
			onnx.Float32s(tp)
			onnx.Int64s(tp)
		})
	})
}

// BenchmarkDecodeEncode100MB decodes and re-encodes a ~100 MB model and reports the peak heap
// in use relative to the file size.
func BenchmarkDecodeEncode100MB(b *testing.B) {
	m := tinyModel()
	for i := 0; i < 25; i++ {
		w := make([]float32, 1<<20) // 4 MiB each
		m.Graph.Initializer = append(m.Graph.Initializer, onnx.NewFloatTensor("w"+string(rune('a'+i)), []int64{1024, 1024}, w))
	}
	raw, err := onnx.Encode(m)
	if err != nil {
		b.Fatal(err)
	}
	m = nil
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := onnx.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := onnx.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}
