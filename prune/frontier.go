package prune

import (
	"context"
	"fmt"
	goruntime "runtime"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// frontier is what K-prune and Kwon et al. carry from one sublayer to the next: for every
// calibration batch, the model inputs and the hidden states entering the current sublayer of the
// student (xs) and of the teacher (xt), each [B, T, D]. A step replaces a batch's hidden state by
// a new slice and never writes into the old one, so both may start out sharing their data.
type frontier struct {
	batches   []data.Batch
	inputs    []map[string]*ort.Tensor // model inputs per batch (ids, mask, token types, positions)
	xs, xt    [][]float32
	hidden    int // D
	sublayers int // 2L, for the progress reports
	ortOpts   ort.Options
	ortTime   *time.Duration
	lowMemory bool // collect Go garbage before every batch
	progress  func(Progress)
}

// newFrontier returns an empty frontier over batches of an encoder with the given hidden size
// and number of sublayers; the driver fills inputs, xs and xt in its first pass.
func newFrontier(batches []data.Batch, hidden, sublayers int, ortOpts ort.Options, ortTime *time.Duration, progress func(Progress)) *frontier {
	n := len(batches)
	return &frontier{
		batches: batches, inputs: make([]map[string]*ort.Tensor, n), xs: make([][]float32, n), xt: make([][]float32, n),
		hidden: hidden, sublayers: sublayers, ortOpts: ortOpts, ortTime: ortTime, progress: progress,
	}
}

// release drops the hidden states and inputs once the last sublayer is done.
func (f *frontier) release() {
	f.xs, f.xt, f.inputs = nil, nil, nil
}

// feed returns a fresh copy of batch i's model inputs, to add graph-specific inputs to.
func (f *frontier) feed(i int) map[string]*ort.Tensor {
	in := make(map[string]*ort.Tensor, len(f.inputs[i])+8)
	for name, t := range f.inputs[i] {
		in[name] = t
	}
	return in
}

// hiddenShape is [B, T, D] of batch i.
func (f *frontier) hiddenShape(i int) []int64 {
	b := &f.batches[i]
	return []int64{int64(b.Size), int64(b.SeqLen), int64(f.hidden)}
}

// collect runs the Go garbage collector between batches in low-memory mode. The live heap holds
// the model, so by default the collector lets garbage grow to about the model's size again
// before it runs; per batch it stays at one batch's outputs.
func (f *frontier) collect() {
	if f.lowMemory {
		goruntime.GC()
	}
}

// report tells the progress callback that batch i of phase at sublayer s is done.
func (f *frontier) report(phase Phase, s, i int) {
	f.progress(Progress{Phase: phase, Sublayer: s, Sublayers: f.sublayers, Done: i + 1, Total: len(f.batches)})
}

// advanceStudent pushes the student's frontier xs through its (now final) sublayer s of model m
// described by enc, reporting PhaseAdvance.
func (f *frontier) advanceStudent(ctx context.Context, m *onnx.ModelProto, enc *graph.Encoder, s int) error {
	sub, err := graph.Extract(m, []string{enc.SublayerInput(s)}, []string{enc.SublayerOutput(s)})
	if err != nil {
		return fmt.Errorf("extracting the student's sublayer %d: %w", s, err)
	}
	sess, err := newSession(sub, f.ortOpts, f.ortTime)
	if err != nil {
		return fmt.Errorf("student sublayer %d session: %w", s, err)
	}
	defer sess.close()
	for i := range f.batches {
		f.collect()
		if err := ctx.Err(); err != nil {
			return err
		}
		in := f.feed(i)
		in[enc.SublayerInput(s)] = ort.F32Tensor(f.hiddenShape(i), f.xs[i])
		out, err := sess.run(ctx, in)
		if err != nil {
			return fmt.Errorf("student sublayer %d, batch %d: %w", s, i, err)
		}
		f.xs[i] = out[enc.SublayerOutput(s)].F32
		f.report(PhaseAdvance, s, i)
	}
	return nil
}

// teacherSublayer runs sublayer s of a teacher batch by batch, advancing the teacher's frontier.
type teacherSublayer struct {
	f                 *frontier
	s                 int
	sess              *session
	input, preLN, out string
	extra             map[string]*ort.Tensor // inputs fed to every batch (the teacher's masks)
}

// openTeacher opens a session on sublayer s of the teacher m described by enc, computing the
// sublayer's output and its pre-LayerNorm sum. extra are inputs fed to every batch besides the
// model inputs and the hidden state (may be nil). The caller closes it.
func (f *frontier) openTeacher(m *onnx.ModelProto, enc *graph.Encoder, s int, extra map[string]*ort.Tensor) (*teacherSublayer, error) {
	t := &teacherSublayer{f: f, s: s, input: enc.SublayerInput(s), preLN: preLN(enc, s), out: enc.SublayerOutput(s), extra: extra}
	sub, err := graph.Extract(m, []string{t.input}, []string{t.preLN, t.out})
	if err != nil {
		return nil, fmt.Errorf("extracting the teacher's sublayer %d: %w", s, err)
	}
	if t.sess, err = newSession(sub, f.ortOpts, f.ortTime); err != nil {
		return nil, fmt.Errorf("teacher sublayer %d session: %w", s, err)
	}
	return t, nil
}

// step runs the teacher's sublayer on batch i: it replaces the teacher's frontier xt[i] by the
// sublayer's output and returns the sublayer's pre-LayerNorm sum [B, T, D].
func (t *teacherSublayer) step(ctx context.Context, i int) ([]float32, error) {
	f := t.f
	in := f.feed(i)
	for name, v := range t.extra {
		in[name] = v
	}
	in[t.input] = ort.F32Tensor(f.hiddenShape(i), f.xt[i])
	out, err := t.sess.run(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("teacher sublayer %d, batch %d: %w", t.s, i, err)
	}
	f.xt[i] = out[t.out].F32
	return out[t.preLN].F32, nil
}

func (t *teacherSublayer) close() { t.sess.close() }
