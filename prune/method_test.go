package prune_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kprune/kprune/prune"
)

// TestOptionsJSONKeys pins the "options" object of the run report: embedding Runtime in Options
// keeps its keys and their order.
func TestOptionsJSONKeys(t *testing.T) {
	o := prune.FaithfulOptions()
	o.Pooling, o.Threads, o.Provider, o.MicroBatch, o.LowMemory = "cls", 2, "cpu", 4, true
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Reduction":0,"Lambda":0.00025,"Mu":64,"Temperature":2,"SeqLen":0,"NoTuning":false,"KeepBias":false,` +
		`"AutoLambda":false,"PerExample":false,"Pooling":"cls","RoundTo":0,"Fisher":false,"FisherSeed":0,` +
		`"MicroBatch":4,"LowMemory":true,"Threads":2,"Provider":"cpu"}`
	if string(b) != want {
		t.Fatalf("options JSON\n%s\nwant\n%s", b, want)
	}
}

// TestNewMethod checks the names NewMethod takes and the targets each method needs.
func TestNewMethod(t *testing.T) {
	cases := []struct {
		name, want string
		targets    bool
		err        string
	}{
		{"kprune", "kprune", false, ""},
		{"", "kprune", false, ""},
		{"kwon", "kwon", true, ""},
		{"magnitude", "magnitude", false, ""},
		{"random", "", false, `unknown pruning method "random" (want one of kprune, kwon, magnitude)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := prune.NewMethod(c.name)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Name() != c.want || prune.NeedsTargets(m) != c.targets {
				t.Fatalf("%s: name %q, needs targets %v", c.name, m.Name(), prune.NeedsTargets(m))
			}
		})
	}
}

// TestMethodWith checks which K-prune options the other methods take.
func TestMethodWith(t *testing.T) {
	o := prune.DefaultOptions()
	o.Threads, o.Provider, o.KeepBias, o.LowMemory = 3, "cuda", true, true
	k, _ := prune.MethodWith("kwon", o)
	if kw := k.(prune.KwonMethod); kw.Threads != 3 || kw.Provider != "cuda" {
		t.Errorf("kwon runtime %+v", kw.Runtime)
	}
	g, _ := prune.MethodWith("magnitude", o)
	if !g.(prune.MagnitudeMethod).KeepBias {
		t.Error("magnitude lost KeepBias")
	}
	p, _ := prune.MethodWith("kprune", o)
	if p.(prune.KPruneMethod).Options != o {
		t.Error("kprune options changed")
	}
}
