package autodiff

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
	yort "github.com/yalue/onnxruntime_go"
)

func profile(t *testing.T, m *onnx.ModelProto, feed map[string]*ort.Tensor, prefix string) {
	if err := ort.Init(); err != nil {
		t.Fatal(err)
	}
	so, _ := yort.NewSessionOptions()
	so.SetIntraOpNumThreads(1)
	so.SetInterOpNumThreads(1)
	so.EnableProfiling(prefix)
	if os.Getenv("OPTOUT") != "" {
		so.SetOptimizedModelFilePath(os.Getenv("OPTOUT") + prefix + ".onnx")
	}
	bts, _ := onnx.Encode(m)
	var ins []string
	inits := map[string]bool{}
	for _, x := range m.GetGraph().GetInitializer() {
		inits[x.GetName()] = true
	}
	for _, v := range m.GetGraph().GetInput() {
		if !inits[v.GetName()] {
			ins = append(ins, v.GetName())
		}
	}
	var outs []string
	for _, v := range m.GetGraph().GetOutput() {
		outs = append(outs, v.GetName())
	}
	s, err := yort.NewDynamicAdvancedSessionWithONNXData(bts, ins, outs, so)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]yort.Value, len(ins))
	for i, n := range ins {
		x := feed[n]
		switch {
		case x.F32 != nil:
			vals[i], _ = yort.NewTensor(yort.NewShape(x.Shape...), x.F32)
		case x.I64 != nil:
			vals[i], _ = yort.NewTensor(yort.NewShape(x.Shape...), x.I64)
		}
	}
	for r := 0; r < 3; r++ {
		o := make([]yort.Value, len(outs))
		if err := s.Run(vals, o); err != nil {
			t.Fatal(err)
		}
	}
	s.Destroy()
	fs, _ := filepath.Glob(prefix + "*.json")
	if len(fs) == 0 {
		t.Fatal("no profile")
	}
	f := fs[len(fs)-1]
	b, _ := os.ReadFile(f)
	var ev []struct {
		Cat  string `json:"cat"`
		Name string `json:"name"`
		Dur  int64  `json:"dur"`
		Args struct {
			Op string `json:"op_name"`
		} `json:"args"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Log(err)
	}
	byOp := map[string]int64{}
	var tot int64
	for _, e := range ev {
		if e.Cat == "Node" && strings.HasSuffix(e.Name, "_kernel_time") {
			byOp[e.Args.Op] += e.Dur
			tot += e.Dur
		}
	}
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range byOp {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	fmt.Printf("== %s total %.1f ms (min per node over 3 runs)\n", prefix, float64(tot)/1000)
	for _, x := range l {
		fmt.Printf("%-30s %8.1f ms\n", x.k, float64(x.v)/1000)
	}
	_ = f
}

func TestZZProfile(t *testing.T) {
	if os.Getenv("PROF") == "" {
		t.Skip()
	}
	cfg := benchSize
	cfg.Layers = 2
	fmt.Sscan(os.Getenv("LAYERS"), &cfg.Layers)
	fmt.Sscan(os.Getenv("PROF"), &cfg.Opset)
	m, _ := testmodel.Build(cfg)
	enc, _ := graph.Discover(m)
	sc, err := BuildScoring(m, enc, 0, ScoringOptions{Gram: true})
	if err != nil {
		t.Fatal(err)
	}
	in := testmodel.Inputs(cfg, 32, 128, 1)
	feed := benchFeed(t, m, enc, sc, in, ort.Options{IntraOpThreads: 1})
	profile(t, m, in, "/tmp/kprune_ad_fwd")
	profile(t, sc.Model, feed, "/tmp/kprune_ad_sc")
}

func TestZZTop(t *testing.T) {
	for _, pat := range []string{"/tmp/kprune_ad_fwd*.json", "/tmp/kprune_ad_sc*.json"} {
	fs, _ := filepath.Glob(pat)
	if len(fs) == 0 {
		t.Skip()
	}
	b, _ := os.ReadFile(fs[0])
	var ev []struct {
		Cat  string `json:"cat"`
		Name string `json:"name"`
		Dur  int64  `json:"dur"`
		Args struct {
			Op  string `json:"op_name"`
			In  []map[string][]int64 `json:"input_type_shape"`
		} `json:"args"`
	}
	json.Unmarshal(b, &ev)
	byNode := map[string]int64{}
	desc := map[string]string{}
	for _, e := range ev {
		if strings.HasSuffix(e.Name, "_kernel_time") {
			if v, ok := byNode[e.Name]; !ok || e.Dur < v {
				byNode[e.Name] = e.Dur
			}
			desc[e.Name] = fmt.Sprint(e.Args.Op, e.Args.In)
		}
	}
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range byNode {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	byOp := map[string]int64{}
	var tot int64
	for _, x := range l {
		byOp[strings.Fields(strings.Trim(desc[x.k], "[]"))[0]] += x.v
		tot += x.v
	}
	fmt.Printf("== %s: %.1f ms\n", pat, float64(tot)/1000)
	for k, v := range byOp {
		if v > 5000 {
			fmt.Printf("  %-20s %8.1f ms\n", k, float64(v)/1000)
		}
	}
	}
}

func TestZZRuns(t *testing.T) {
	for _, pat := range []string{"/tmp/kprune_ad_fwd*.json", "/tmp/kprune_ad_sc*.json"} {
		fs, _ := filepath.Glob(pat)
		if len(fs) == 0 {
			t.Skip()
		}
		b, _ := os.ReadFile(fs[0])
		var ev []struct {
			Cat  string `json:"cat"`
			Name string `json:"name"`
			Dur  int64  `json:"dur"`
		}
		json.Unmarshal(b, &ev)
		seen := map[string]int{}
		runs := make([]int64, 5)
		for _, e := range ev {
			if strings.HasSuffix(e.Name, "_kernel_time") {
				runs[seen[e.Name]] += e.Dur
				seen[e.Name]++
			}
			if e.Cat == "Session" {
				fmt.Println(e.Name, e.Dur/1000, "ms")
			}
		}
		fmt.Println(pat, runs)
	}
}
