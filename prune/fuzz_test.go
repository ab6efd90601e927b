package prune

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// fuzzCandidates decodes candidates from b, 10 bytes each: a mode byte chooses the score (a
// small integer, for ties; zero; or any float64 bit pattern, NaN and Inf included), a cost byte
// a small cost (with 253-255 meaning NaN, +Inf and -1), then 8 bytes of bits.
func fuzzCandidates(b []byte) []Candidate {
	var cs []Candidate
	for i := 0; i+10 <= len(b); i += 10 {
		bits := binary.LittleEndian.Uint64(b[i+2 : i+10])
		var score float64
		switch b[i] % 4 {
		case 0:
			score = float64(bits % 5) // ties
		case 1:
			score = 0
		default:
			score = math.Float64frombits(bits)
		}
		var cost float64
		switch c := b[i+1]; c {
		case 253:
			cost = math.NaN()
		case 254:
			cost = math.Inf(1)
		case 255:
			cost = -1
		default:
			cost = float64(c % 40)
		}
		cs = append(cs, Candidate{Sublayer: int(b[i] / 4 % 8), Unit: i / 10, Score: score, Cost: cost})
	}
	return cs
}

// FuzzThreshold runs the mask search on arbitrary scores (NaN, Inf, ties, zeros), costs and
// budgets: it must return quickly; an error only for NaN/Inf scores, bad costs or a NaN budget;
// otherwise the kept units fit the budget and the threshold is the reference loop's.
func FuzzThreshold(f *testing.F) {
	one := func(mode, cost byte, bits uint64) []byte {
		b := []byte{mode, cost, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.LittleEndian.PutUint64(b[2:], bits)
		return b
	}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	f.Add(cat(one(0, 2, 1), one(0, 2, 1), one(0, 3, 4)), 4.0)              // ties
	f.Add(cat(one(1, 2, 0), one(1, 5, 0)), 3.0)                            // zeros
	f.Add(cat(one(2, 2, math.Float64bits(math.NaN())), one(0, 2, 1)), 3.0) // NaN
	f.Add(cat(one(2, 2, math.Float64bits(math.Inf(1))), one(2, 2, 0x7ff0000000000001)), 1.0)
	f.Add(cat(one(0, 253, 1), one(0, 254, 2), one(0, 255, 3)), 10.0) // bad costs
	f.Add(cat(one(2, 7, math.Float64bits(2.5)), one(2, 9, math.Float64bits(-1e300))), -5.0)
	f.Add([]byte{}, 1.0)
	f.Add(cat(one(0, 2, 1)), math.NaN())
	f.Add(cat(one(0, 2, 1), one(0, 4, 2)), math.Inf(1))
	f.Fuzz(func(t *testing.T, b []byte, budget float64) {
		cands := fuzzCandidates(b)
		type result struct {
			thr float64
			err error
		}
		done := make(chan result, 1)
		go func() {
			thr, err := Threshold(cands, budget)
			done <- result{thr, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Threshold did not return for %d candidates, budget %v", len(cands), budget)
		}
		bad := math.IsNaN(budget)
		total := 0.0
		for _, c := range cands {
			bad = bad || math.IsNaN(c.Score) || math.IsInf(c.Score, 0) || math.IsNaN(c.Cost) || math.IsInf(c.Cost, 0) || c.Cost < 0
			total += c.Cost
		}
		if bad != (r.err != nil) {
			t.Fatalf("invalid input %v, error %v", bad, r.err)
		}
		if bad {
			return
		}
		kept := 0.0
		for _, c := range cands {
			if c.Score > r.thr {
				kept += c.Cost
			}
		}
		if total <= budget {
			if !math.IsInf(r.thr, -1) {
				t.Fatalf("everything fits (%v <= %v) but threshold %v", total, budget, r.thr)
			}
			return
		}
		if !(kept < budget || (budget <= 0 && kept == 0)) {
			t.Fatalf("kept %v FLOPs, budget %v (threshold %v)", kept, budget, r.thr)
		}
		if len(cands) == 0 {
			return // nothing to prune: the threshold only has to keep nothing
		}
		if want := referenceThreshold(cands, budget); want != r.thr {
			t.Fatalf("threshold %v, reference loop %v", r.thr, want)
		}
	})
}

// FuzzOptionsValidate: Validate never panics and accepts exactly the documented ranges; its
// errors are OptionErrors naming a field.
func FuzzOptionsValidate(f *testing.F) {
	d := DefaultOptions()
	f.Add(0.5, d.Lambda, d.Mu, d.Temperature, 0.0, 0, 0, 0, "cpu")
	f.Add(math.NaN(), math.NaN(), math.NaN(), 0.0, -1.0, -1, -1, -1, "tpu")
	f.Add(0.99, math.Inf(1), 0.0, 1e-300, math.Inf(1), 4, 8, 2, "CUDA")
	f.Add(1.0, -1.0, -1.0, -2.0, 128.0, 1<<30, 1, 64, "")
	f.Fuzz(func(t *testing.T, reduction, lambda, mu, temperature, seqLen float64, roundTo, microBatch, threads int, provider string) {
		o := Options{Reduction: reduction, Lambda: lambda, Mu: mu, Temperature: temperature, SeqLen: seqLen,
			RoundTo: roundTo, Runtime: Runtime{MicroBatch: microBatch, Threads: threads, Provider: provider}}
		err := o.Validate()
		finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
		lp := strings.ToLower(provider)
		prov := lp == "" || lp == "cpu" || lp == "cuda"
		valid := finite(reduction) && reduction >= 0 && reduction < 1 && finite(lambda) && lambda >= 0 && finite(mu) && mu >= 0 &&
			finite(temperature) && temperature > 0 && finite(seqLen) && seqLen >= 0 && roundTo >= 0 && microBatch >= 0 && threads >= 0
		if err == nil && (!valid || !prov) {
			t.Fatalf("%+v accepted", o)
		}
		if err != nil {
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option == "" || oe.Reason == "" {
				t.Fatalf("error %v is not an OptionError", err)
			}
			if valid && prov {
				t.Fatalf("%+v rejected: %v", o, err)
			}
		}
	})
}
