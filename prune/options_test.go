package prune

import (
	"errors"
	"github.com/kprune/kprune/graph"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	ort "github.com/kprune/kprune/runtime"
)

func TestRoundKept(t *testing.T) {
	scores := []float64{5, 1, 4, 3, 9, 2, 8, 7}
	cases := []struct {
		kept []int
		n    int
		want []int
	}{
		{[]int{0, 4, 6}, 4, []int{0, 4, 6, 7}}, // 3 -> 4: add the best missing (score 7)
		{[]int{0, 4, 6, 7, 2}, 4, []int{0, 4, 6, 7}},
		{[]int{4}, 4, []int{}},                    // 1 -> 0
		{[]int{4, 6}, 4, []int{0, 4, 6, 7}},       // 2 -> 4 (halves round up)
		{[]int{0, 2, 4, 6}, 4, []int{0, 2, 4, 6}}, // already aligned
	}
	for _, c := range cases {
		got := roundKept(scores, c.kept, c.n)
		if len(got) == 0 && len(c.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("roundKept(%v, %d) = %v, want %v", c.kept, c.n, got, c.want)
		}
	}
}

func TestPerExampleSquares(t *testing.T) {
	// batch 2, width 3: per-example grads of a batch-mean loss.
	g := []float32{1, 2, 3, 0.5, 0, -1}
	got := perExampleSquares(g, 2, 3)
	want := []float32{4*1 + 4*0.25, 4 * 4, 4*9 + 4*1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("perExampleSquares = %v, want %v", got, want)
		}
	}
}

func TestSampleOneHot(t *testing.T) {
	const rows = 20000
	p := make([]float32, 0, rows*3)
	for i := 0; i < rows; i++ {
		p = append(p, 0.2, 0.5, 0.3)
	}
	tg := ort.F32Tensor([]int64{rows, 3}, p)
	rng := rand.New(rand.NewPCG(1, 2))
	u := make([]float64, rows)
	for i := range u {
		u[i] = rng.Float64()
	}
	sampleOneHot(tg, u)
	var count [3]float64
	for r := 0; r < rows; r++ {
		ones := 0
		for c := 0; c < 3; c++ {
			if v := tg.F32[r*3+c]; v == 1 {
				ones++
				count[c]++
			} else if v != 0 {
				t.Fatalf("row %d is not one-hot: %v", r, tg.F32[r*3:r*3+3])
			}
		}
		if ones != 1 {
			t.Fatalf("row %d has %d ones", r, ones)
		}
	}
	for c, want := range []float64{0.2, 0.5, 0.3} {
		if got := count[c] / rows; math.Abs(got-want) > 0.02 {
			t.Errorf("class %d drawn %.3f of the time, want %.1f", c, got, want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	if o := DefaultOptions(); o.Validate() != nil {
		t.Fatalf("DefaultOptions invalid: %v", o.Validate())
	}
	cases := []struct {
		option string
		set    func(o *Options)
	}{
		{"Reduction", func(o *Options) { o.Reduction = 1 }},
		{"Reduction", func(o *Options) { o.Reduction = nan }},
		{"Lambda", func(o *Options) { o.Lambda = nan }},
		{"Lambda", func(o *Options) { o.Lambda = inf }},
		{"Lambda", func(o *Options) { o.Lambda = -1 }},
		{"Mu", func(o *Options) { o.Mu = nan }},
		{"Mu", func(o *Options) { o.Mu = -1 }},
		{"Mu", func(o *Options) { o.Mu = -inf }},
		{"Temperature", func(o *Options) { o.Temperature = 0 }},
		{"Temperature", func(o *Options) { o.Temperature = -2 }},
		{"Temperature", func(o *Options) { o.Temperature = inf }},
		{"SeqLen", func(o *Options) { o.SeqLen = -1 }},
		{"SeqLen", func(o *Options) { o.SeqLen = nan }},
		{"RoundTo", func(o *Options) { o.RoundTo = -1 }},
		{"MicroBatch", func(o *Options) { o.MicroBatch = -1 }},
		{"Threads", func(o *Options) { o.Threads = -1 }},
		{"Provider", func(o *Options) { o.Provider = "tpu" }},
	}
	for _, c := range cases {
		o := DefaultOptions()
		o.Reduction = 0.5
		c.set(&o)
		err := o.Validate()
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("%+v: got %v, want an OptionError on %s", o, err, c.option)
		}
	}
	// Zero is a value, not a default: lambda 0 and mu 0 are valid, temperature 0 is not.
	o := DefaultOptions()
	o.Lambda, o.Mu = 0, 0
	if err := o.Validate(); err != nil {
		t.Errorf("lambda 0, mu 0: %v", err)
	}
	if err := (&MagnitudeOptions{Reduction: 0.5, SeqLen: -1}).Validate(); err == nil {
		t.Error("magnitude: negative SeqLen accepted")
	}
	if err := (&KwonOptions{Reduction: 0.5, Runtime: Runtime{Threads: -1}}).Validate(); err == nil {
		t.Error("kwon: negative Threads accepted")
	}
}

func TestPresets(t *testing.T) {
	faithful, err := PresetOptions(PresetFaithful)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Lambda: DefaultLambda, Mu: DefaultMu, Temperature: DefaultTemperature}
	if faithful != want || FaithfulOptions() != want {
		t.Fatalf("faithful preset %+v, want the reference's %+v", faithful, want)
	}
	def := DefaultOptions()
	if !def.PerExample || !def.AutoLambda || !def.Fisher || def.Lambda != DefaultLambda || def.Validate() != nil {
		t.Fatalf("default preset %+v", def)
	}
	if _, err := PresetOptions("paper"); err == nil {
		t.Fatal("an unknown preset was accepted")
	}
	custom := FaithfulOptions()
	custom.Fisher, custom.AutoLambda, custom.Lambda = true, true, 1e-3
	tuned := DefaultOptions()
	tuned.Reduction, tuned.Threads, tuned.SeqLen = 0.7, 2, 20 // not part of the setting
	noFisher := DefaultOptions()
	noFisher.Fisher = false
	for _, c := range []struct {
		o           Options
		head        graph.HeadKind
		setting     string
		independent bool
	}{
		{FaithfulOptions(), graph.HeadClassification, "faithful", false},
		{DefaultOptions(), graph.HeadClassification, "default", true},
		{DefaultOptions(), graph.HeadEmbedding, "default", true},
		{tuned, graph.HeadClassification, "default", true},
		{custom, graph.HeadClassification, "custom: auto-lambda, fisher, lambda 0.001", false},
		{custom, graph.HeadRegression, "custom: auto-lambda, lambda 0.001", false},
		{noFisher, graph.HeadClassification, "custom: per-example, auto-lambda", true},
		{noFisher, graph.HeadEmbedding, "default", true},
	} {
		if got := c.o.Setting(c.head); got != c.setting {
			t.Errorf("Setting() = %q, want %q", got, c.setting)
		}
		if got := c.o.BatchIndependent(); got != c.independent {
			t.Errorf("%s: BatchIndependent() = %v, want %v", c.setting, got, c.independent)
		}
	}
}

func TestApplyPreset(t *testing.T) {
	o := DefaultOptions()
	o.Reduction, o.Lambda, o.KeepBias = 0.6, 1e-3, true
	if err := o.ApplyPreset(PresetFaithful, func(f string) bool { return f == "Lambda" }); err != nil {
		t.Fatal(err)
	}
	want := FaithfulOptions()
	want.Reduction, want.Lambda = 0.6, 1e-3
	if o != want {
		t.Fatalf("got %+v, want %+v", o, want)
	}
	if err := o.ApplyPreset("paper", nil); err == nil {
		t.Fatal("unknown preset accepted")
	}
}
