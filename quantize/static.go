package quantize

import (
	"context"
	"fmt"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// Static quantizes m in QDQ form: the weights of every MatMul and Gemm with a constant float32
// weight are stored in int8 behind a DequantizeLinear, and each such MatMul's activation input
// goes through QuantizeLinear and DequantizeLinear with a uint8 scale and zero point computed
// from its range over the calibration batches (run through onnxruntime). See the package
// documentation for the numerical choices and what stays float.
//
// The batches feed the model's input_ids, attention_mask and token_type_ids inputs, and positions
// 0..n-1 to a position_ids input (found by structure, else by name). Errors wrap ErrCalibration when they do not fit the model, and
// ErrAlreadyQuantized, ErrNoMatMul or ErrUnsupported for models Static refuses. m is not
// modified; the result shares its unchanged nodes and tensors.
func Static(ctx context.Context, m *onnx.ModelProto, calib []data.Batch, opts Options) (*onnx.ModelProto, *Report, error) {
	p, err := prepare(m, opts, ModeStatic)
	if err != nil {
		return nil, nil, err
	}
	acts := []string{}
	seen := map[string]bool{}
	for _, l := range p.linears {
		if !seen[l.x] {
			seen[l.x] = true
			acts = append(acts, l.x)
		}
	}
	ranges, err := p.calibrate(ctx, calib, acts, opts.Threads)
	if err != nil {
		return nil, nil, err
	}
	e := newEmitter(p, opts)
	params := map[string]ActivationRange{}
	for i, x := range acts {
		r := ranges[i]
		r.Scale, r.ZeroPoint = asymmetricParams(r.Min, r.Max)
		params[x] = r
		p.rep.Activations = append(p.rep.Activations, r)
	}
	if err := e.rewrite(p, func(l *linear) { e.staticLinear(l, params[l.x]) }); err != nil {
		return nil, nil, err
	}
	p.rep.QuantizedWeightBytes = e.qbytes
	return e.finish(producerTag(ModeStatic, opts)), p.rep, nil
}

// staticActivation returns the tensor carrying x through QuantizeLinear and DequantizeLinear
// (added before the first MatMul that reads x, shared by the others).
func (e *emitter) staticActivation(x string, r ActivationRange) string {
	if q, ok := e.acts[x]; ok {
		return q[0]
	}
	s, zp := e.fresh(x+"_scale"), e.fresh(x+"_zero_point")
	e.init(floatTensor(s, []int64{}, []float32{r.Scale}))
	e.init(&onnx.TensorProto{Name: &zp, DataType: int32Ptr(int32(onnx.TensorProto_UINT8)), Dims: []int64{}, RawData: []byte{r.ZeroPoint}})
	q := e.fresh(x + "_QuantizeLinear_Output")
	e.node("QuantizeLinear", x+"_QuantizeLinear", []string{x, s, zp}, []string{q})
	dq := e.fresh(x + "_DequantizeLinear_Output")
	e.node("DequantizeLinear", x+"_DequantizeLinear", []string{q, s, zp}, []string{dq})
	e.acts[x] = [3]string{dq}
	return dq
}

// staticWeight returns the tensor of l's weight dequantized from int8 (one DequantizeLinear per
// weight; per channel along the output axis 1).
func (e *emitter) staticWeight(l *linear) string {
	if q, ok := e.acts["\x00w:"+l.wName]; ok {
		return q[0]
	}
	wq := e.quantizedWeight(l)
	out := e.fresh(l.wName + "_DequantizeLinear_Output")
	var attrs []*onnx.AttributeProto
	if e.opts.PerChannel {
		attrs = append(attrs, onnx.AttrInt("axis", 1))
	}
	e.node("DequantizeLinear", l.wName+"_DequantizeLinear", []string{wq[0], wq[1], wq[2]}, []string{out}, attrs...)
	e.acts["\x00w:"+l.wName] = [3]string{out}
	return out
}

// staticLinear writes one QDQ MatMul (a Gemm as MatMul + Add):
//
//	x -> QuantizeLinear -> DequantizeLinear -\
//	Wq (int8) -> DequantizeLinear ------------> MatMul -> y [-> Add(., C) for a Gemm]
func (e *emitter) staticLinear(l *linear, r ActivationRange) {
	x := e.staticActivation(l.x, r)
	w := e.staticWeight(l)
	name, out := e.matmulOf(l)
	e.node("MatMul", name, []string{x, w}, []string{out})
	e.gemmBias(l, out)
}

func int32Ptr(v int32) *int32 { return &v }

// calibrate runs the calibration batches through the float model and returns the range
// (min, max over every batch) of each tensor of acts.
func (p *plan) calibrate(ctx context.Context, calib []data.Batch, acts []string, threads int) ([]ActivationRange, error) {
	t0 := time.Now()
	if err := p.checkCalibration(calib); err != nil {
		return nil, err
	}
	// One ReduceMin and one ReduceMax per tensor: the session returns two scalars per tensor
	// instead of the activations themselves.
	cm := onnx.ShallowCopy(p.m)
	ng := cm.Graph
	e := newEmitter(p, Options{})
	outs := make([]string, 0, 2*len(acts))
	for _, x := range acts {
		lo, hi := e.fresh(x+"_kprune_calib_min"), e.fresh(x+"_kprune_calib_max")
		ng.Node = append(ng.Node,
			onnx.NewNode("ReduceMin", e.fresh(x+"_kprune_calib_ReduceMin"), []string{x}, []string{lo}, onnx.AttrInt("keepdims", 1)),
			onnx.NewNode("ReduceMax", e.fresh(x+"_kprune_calib_ReduceMax"), []string{x}, []string{hi}, onnx.AttrInt("keepdims", 1)))
		outs = append(outs, lo, hi)
	}
	sess, err := ort.NewSession(cm, ort.Options{IntraOpThreads: threads, Outputs: outs, SharedWeights: true})
	if err != nil {
		return nil, fmt.Errorf("calibration session: %w", err)
	}
	defer sess.Close()
	roles := map[string]string{}
	for _, in := range sess.Inputs() {
		role := p.enc.InputRole(in.Name)
		if role == "" {
			return nil, fmt.Errorf("%w: the model's input %q is none of input_ids, attention_mask, token_type_ids, position_ids, which is all calibration batches feed", ErrCalibration, in.Name)
		}
		roles[in.Name] = role
	}
	ranges := make([]ActivationRange, len(acts))
	stats := &CalibrationStats{Batches: len(calib), Tensors: len(acts)}
	for bi := range calib {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := &calib[bi]
		feed := map[string]*ort.Tensor{}
		for name, role := range roles {
			v := b.InputIDs
			switch role {
			case "mask":
				v = b.AttentionMask
			case "type":
				v = b.TokenTypeIDs
				if v == nil {
					v = make([]int64, len(b.InputIDs))
				}
			case "position":
				v = make([]int64, len(b.InputIDs))
				for k := range v {
					v[k] = int64(k % b.SeqLen)
				}
			}
			feed[name] = ort.I64Tensor(b.Shape(), v)
		}
		res, err := sess.Run(ctx, feed)
		if err != nil {
			return nil, fmt.Errorf("%w: calibration batch %d (%d x %d): %w", ErrCalibration, bi, b.Size, b.SeqLen, err)
		}
		byName := ort.ByName(res)
		for i := range acts {
			lo, hi := byName[outs[2*i]], byName[outs[2*i+1]]
			if lo == nil || hi == nil || len(lo.F32) != 1 || len(hi.F32) != 1 {
				return nil, fmt.Errorf("calibration: no float range for %q", acts[i])
			}
			r := &ranges[i]
			if bi == 0 {
				r.Tensor, r.Min, r.Max = acts[i], lo.F32[0], hi.F32[0]
			} else {
				r.Min, r.Max = min(r.Min, lo.F32[0]), max(r.Max, hi.F32[0])
			}
		}
		stats.Sequences += b.Size
		stats.Positions += b.Size * b.SeqLen
	}
	stats.Seconds = time.Since(t0).Seconds()
	p.rep.Calibration = stats
	return ranges, nil
}

// checkCalibration rejects calibration batches that cannot fit the model before running them.
func (p *plan) checkCalibration(calib []data.Batch) error {
	if len(calib) == 0 {
		return fmt.Errorf("%w: no calibration batches (static quantization measures activation ranges on data)", ErrCalibration)
	}
	vocab, maxPos := 0, 0
	if p.enc != nil {
		vocab = vocabRows(p.ix, p.enc.InputIDs)
		maxPos = graph.MaxPositions(p.m, p.enc)
	}
	for i, b := range calib {
		n := b.Size * b.SeqLen
		if b.Size <= 0 || b.SeqLen <= 0 || len(b.InputIDs) != n || len(b.AttentionMask) != n || (b.TokenTypeIDs != nil && len(b.TokenTypeIDs) != n) {
			return fmt.Errorf("%w: batch %d has an inconsistent shape (%d x %d with %d ids, %d mask values)", ErrCalibration, i, b.Size, b.SeqLen, len(b.InputIDs), len(b.AttentionMask))
		}
		if maxPos > 0 && b.SeqLen > maxPos {
			return fmt.Errorf("%w: batch %d has sequences of %d tokens but the model takes at most %d positions (shorten them, e.g. --max-len %d)", ErrCalibration, i, b.SeqLen, maxPos, maxPos)
		}
		if vocab > 0 {
			for _, id := range b.InputIDs {
				if id < 0 || id >= int64(vocab) {
					return fmt.Errorf("%w: batch %d has token id %d, outside the model's vocabulary of %d rows (is the tokenizer the model's own?)", ErrCalibration, i, id, vocab)
				}
			}
		}
	}
	return nil
}

// vocabRows is the row count of the embedding table gathered by the input ids, or 0.
func vocabRows(ix *graph.Index, ids string) int {
	if ids == "" {
		return 0
	}
	for _, n := range ix.Consumers(ids) {
		if n.GetOpType() == "Gather" && len(n.GetInput()) == 2 && n.GetInput()[1] == ids {
			if t := ix.Initializer(n.GetInput()[0]); t != nil && len(t.GetDims()) == 2 {
				return int(t.GetDims()[0])
			}
		}
	}
	return 0
}
