package data

import "testing"

func TestBuildCalibrationBucket(t *testing.T) {
	var encs []Encoding
	for _, n := range []int{5, 2, 9, 3, 7, 4, 8, 6} {
		e := Encoding{IDs: make([]int32, n), TypeIDs: make([]int32, n), AttentionMask: make([]int32, n)}
		for i := range e.AttentionMask {
			e.AttentionMask[i] = 1
			e.IDs[i] = 5
		}
		encs = append(encs, e)
	}
	opts := CalibOptions{SampleOptions: SampleOptions{N: 8, Seed: 3}, BatchSize: 2, Padding: Padding{ID: 0}}
	plain, err := BuildCalibration(encs, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Bucket = true
	bucketed, err := BuildCalibration(encs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Stats.Tokens != bucketed.Stats.Tokens || plain.Stats.Sequences != bucketed.Stats.Sequences {
		t.Fatalf("bucketing changed the sample: %+v vs %+v", plain.Stats, bucketed.Stats)
	}
	if bucketed.Stats.PaddedTokens >= plain.Stats.PaddedTokens {
		t.Fatalf("bucketing did not reduce padding: %d vs %d", bucketed.Stats.PaddedTokens, plain.Stats.PaddedTokens)
	}
	for i := 1; i < len(bucketed.Batches); i++ {
		if bucketed.Batches[i].SeqLen < bucketed.Batches[i-1].SeqLen {
			t.Fatalf("batches not in length order: %d after %d", bucketed.Batches[i].SeqLen, bucketed.Batches[i-1].SeqLen)
		}
	}
}
