package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kprune/kprune/onnx"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// OptLevel is onnxruntime's graph optimisation level.
type OptLevel int

// Graph optimisation levels, as onnxruntime defines them.
const (
	OptAll OptLevel = iota // the default: every optimisation, including layout ones
	OptDisabled
	OptBasic
	OptExtended
)

// ParseOptLevel parses "all", "extended", "basic" or "disabled".
func ParseOptLevel(s string) (OptLevel, error) {
	switch strings.ToLower(s) {
	case "", "all":
		return OptAll, nil
	case "extended":
		return OptExtended, nil
	case "basic":
		return OptBasic, nil
	case "disabled", "none":
		return OptDisabled, nil
	}
	return 0, fmt.Errorf("unknown optimisation level %q (want all, extended, basic or disabled)", s)
}

// Options configure a session.
type Options struct {
	// IntraOpThreads is the number of threads inside one operator; 0 lets onnxruntime choose.
	IntraOpThreads int
	// InterOpThreads is the number of threads running operators in parallel; 0 lets onnxruntime choose.
	InterOpThreads int
	// OptLevel is the graph optimisation level (default OptAll).
	OptLevel OptLevel
	// Provider is the execution provider: "" or "cpu", or "cuda".
	Provider string
	// NoArena turns off onnxruntime's CPU memory arena and memory-pattern planning: tensors are
	// allocated and freed as they are needed. Peak memory drops to what is live at once (large
	// backward graphs otherwise keep several GB reserved), at some cost in speed. On Linux it also
	// tunes glibc's malloc, for the whole process, to return freed blocks to the system at once.
	NoArena bool
	// OptimizedModelPath, when set, makes onnxruntime save its optimised graph there.
	OptimizedModelPath string
	// SharedWeights hands the model's large floating-point initializers to onnxruntime by
	// reference, as inputs the session binds itself, instead of letting onnxruntime copy them:
	// onnxruntime then holds no copy of the weights and cannot constant-fold transposed copies or
	// pre-pack them, which roughly halves to thirds the memory of a large gradient graph. The
	// model's tensors must not be modified while the session is open. Fusions that need constant
	// weights are lost, so use it for analysis graphs, not to measure deployment latency.
	SharedWeights bool
	// Outputs lists the tensors to return; empty means the graph's outputs. Tensors that are not
	// graph outputs are added to the graph's outputs first, so intermediate activations can be
	// fetched in the same run as the model's outputs.
	Outputs []string
}

// IOInfo describes one input or output of a session.
type IOInfo struct {
	Name string
	// Elem is the ONNX element type.
	Elem onnx.TensorProto_DataType
	// Shape has -1 for dynamic dimensions; nil when unknown.
	Shape []int64
}

// Session is an onnxruntime session with fixed input and output names. Run may be called from
// several goroutines at once.
type Session struct {
	s       *ort.DynamicAdvancedSession
	inputs  []IOInfo
	outputs []IOInfo
	// bound are the shared weights (SharedWeights), fed on every run after the caller's inputs;
	// each value also keeps its Go memory alive.
	bound       []ort.Value
	sharedBytes int64
}

// NewSession creates a session for model m. m is not modified.
func NewSession(m *onnx.ModelProto, opts Options) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	if len(opts.Outputs) > 0 {
		m = withOutputs(m, opts.Outputs)
	}
	var shared []*Tensor
	if opts.SharedWeights {
		var err error
		if m, shared, err = shareWeights(m); err != nil {
			return nil, err
		}
	}
	b, err := onnx.Encode(m)
	if err != nil {
		return nil, err
	}
	inits := map[string]bool{}
	for _, t := range m.GetGraph().GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, t := range shared {
		inits[t.Name] = true
	}
	s := &Session{}
	for _, v := range m.GetGraph().GetInput() {
		if !inits[v.GetName()] {
			s.inputs = append(s.inputs, ioInfo(v))
		}
	}
	outNames := opts.Outputs
	if len(outNames) == 0 {
		for _, v := range m.GetGraph().GetOutput() {
			outNames = append(outNames, v.GetName())
		}
	}
	outInfo := map[string]*onnx.ValueInfoProto{}
	for _, v := range m.GetGraph().GetOutput() {
		outInfo[v.GetName()] = v
	}
	for _, n := range outNames {
		if v := outInfo[n]; v != nil {
			s.outputs = append(s.outputs, ioInfo(v))
		} else {
			s.outputs = append(s.outputs, IOInfo{Name: n})
		}
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("creating session options: %w", err)
	}
	defer so.Destroy()
	if err := applyOptions(so, opts); err != nil {
		return nil, err
	}
	in := make([]string, len(s.inputs), len(s.inputs)+len(shared))
	for i, v := range s.inputs {
		in[i] = v.Name
	}
	for _, t := range shared {
		in = append(in, t.Name)
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(b, in, outNames, so)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime refused the model: %w", err)
	}
	s.s = sess
	for _, t := range shared {
		v, err := t.toORT()
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("binding initializer %q: %w", t.Name, err)
		}
		s.bound = append(s.bound, v)
		s.sharedBytes += int64(4*len(t.F32) + 8*len(t.F64))
	}
	return s, nil
}

func applyOptions(so *ort.SessionOptions, opts Options) error {
	if opts.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(opts.IntraOpThreads); err != nil {
			return fmt.Errorf("setting intra-op threads: %w", err)
		}
	}
	if opts.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(opts.InterOpThreads); err != nil {
			return fmt.Errorf("setting inter-op threads: %w", err)
		}
	}
	lvl := map[OptLevel]ort.GraphOptimizationLevel{
		OptAll: ort.GraphOptimizationLevelEnableAll, OptDisabled: ort.GraphOptimizationLevelDisableAll,
		OptBasic: ort.GraphOptimizationLevelEnableBasic, OptExtended: ort.GraphOptimizationLevelEnableExtended,
	}[opts.OptLevel]
	if err := so.SetGraphOptimizationLevel(lvl); err != nil {
		return fmt.Errorf("setting optimisation level: %w", err)
	}
	if opts.NoArena {
		tuneAllocator()
		if err := so.SetCpuMemArena(false); err != nil {
			return fmt.Errorf("disabling the memory arena: %w", err)
		}
		if err := so.SetMemPattern(false); err != nil {
			return fmt.Errorf("disabling memory patterns: %w", err)
		}
	}
	if opts.OptimizedModelPath != "" {
		if err := so.SetOptimizedModelFilePath(opts.OptimizedModelPath); err != nil {
			return fmt.Errorf("setting optimised model path: %w", err)
		}
	}
	switch strings.ToLower(opts.Provider) {
	case "", "cpu":
	case "cuda":
		cu, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("execution provider cuda is not available in this onnxruntime library: %w", err)
		}
		defer cu.Destroy()
		if err := so.AppendExecutionProviderCUDA(cu); err != nil {
			return fmt.Errorf("execution provider cuda is not available (no GPU, or a CPU-only onnxruntime library): %w", err)
		}
	default:
		return fmt.Errorf("unknown execution provider %q (want cpu or cuda)", opts.Provider)
	}
	return nil
}

func ioInfo(v *onnx.ValueInfoProto) IOInfo {
	info := IOInfo{Name: v.GetName()}
	elem, shape, ok := onnx.ValueInfoShape(v)
	info.Elem = onnx.TensorProto_DataType(elem)
	if ok {
		info.Shape = make([]int64, len(shape))
		for i, d := range shape {
			if d.Param != "" || d.Value <= 0 {
				info.Shape[i] = -1
			} else {
				info.Shape[i] = d.Value
			}
		}
	}
	return info
}

// withOutputs returns a shallow copy of m whose graph outputs are exactly names (graph outputs
// keep their value info; other tensors get an untyped one that onnxruntime infers).
func withOutputs(m *onnx.ModelProto, names []string) *onnx.ModelProto {
	g := m.GetGraph()
	known := map[string]*onnx.ValueInfoProto{}
	for _, v := range g.GetOutput() {
		known[v.GetName()] = v
	}
	for _, v := range g.GetValueInfo() {
		if _, ok := known[v.GetName()]; !ok {
			known[v.GetName()] = v
		}
	}
	ng := &onnx.GraphProto{}
	*ng = onnx.GraphProto{
		Node: g.Node, Name: g.Name, Initializer: g.Initializer, SparseInitializer: g.SparseInitializer,
		DocString: g.DocString, Input: g.Input, ValueInfo: g.ValueInfo,
	}
	for _, n := range names {
		if v := known[n]; v != nil {
			ng.Output = append(ng.Output, v)
		} else {
			// Untyped: onnxruntime infers the element type and shape.
			ng.Output = append(ng.Output, &onnx.ValueInfoProto{Name: proto.String(n)})
		}
	}
	nm := &onnx.ModelProto{
		IrVersion: m.IrVersion, OpsetImport: m.OpsetImport, ProducerName: m.ProducerName,
		ProducerVersion: m.ProducerVersion, Domain: m.Domain, ModelVersion: m.ModelVersion,
		Graph: ng, Functions: m.Functions,
	}
	return nm
}

// Inputs describes the session's inputs.
func (s *Session) Inputs() []IOInfo { return s.inputs }

// Outputs describes the session's outputs, in the order Run returns them.
func (s *Session) Outputs() []IOInfo { return s.outputs }

// SharedBytes returns the bytes of weights the session reads from the model's memory instead of
// holding its own copy (0 unless Options.SharedWeights).
func (s *Session) SharedBytes() int64 {
	return s.sharedBytes
}

// Close releases the session.
func (s *Session) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	for _, v := range s.bound {
		v.Destroy()
	}
	s.bound = nil
	return err
}

// Run executes the session on the named inputs (every session input must be given) and returns
// the outputs in the order of Outputs. Cancelling ctx terminates a run in progress.
func (s *Session) Run(ctx context.Context, inputs map[string]*Tensor) ([]*Tensor, error) {
	return s.RunInto(ctx, inputs, nil)
}

// ByName indexes tensors (a run's outputs) by name.
func ByName(ts []*Tensor) map[string]*Tensor {
	m := make(map[string]*Tensor, len(ts))
	for _, t := range ts {
		m[t.Name] = t
	}
	return m
}

// RunInto is Run with caller-owned output buffers: onnxruntime writes each output named in dst
// straight into that tensor (its element type and shape must be exactly the output's), which is
// then returned in its place, so a loop of runs allocates nothing for those outputs. Other
// outputs are allocated as in Run.
func (s *Session) RunInto(ctx context.Context, inputs map[string]*Tensor, dst map[string]*Tensor) ([]*Tensor, error) {
	if s.s == nil {
		return nil, errors.New("run: session is closed")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := make([]ort.Value, len(s.inputs), len(s.inputs)+len(s.bound))
	defer func() {
		for _, v := range in[:len(s.inputs)] {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, info := range s.inputs {
		t, ok := inputs[info.Name]
		if !ok || t == nil {
			return nil, fmt.Errorf("run: input %q was not given", info.Name)
		}
		v, err := t.toORTAs(info.Elem)
		if err != nil {
			return nil, fmt.Errorf("run: input %q: %w", info.Name, err)
		}
		in[i] = v
	}
	if len(inputs) > len(s.inputs) {
		for name := range inputs {
			if !s.hasInput(name) {
				return nil, fmt.Errorf("run: the model has no input %q", name)
			}
		}
	}
	in = append(in, s.bound...)
	out := make([]ort.Value, len(s.outputs))
	defer func() {
		for _, v := range out {
			destroy(v)
		}
	}()
	given := make([]*Tensor, len(s.outputs))
	for i, info := range s.outputs {
		t := dst[info.Name]
		if t == nil {
			continue
		}
		v, err := t.toORT()
		if err != nil {
			return nil, fmt.Errorf("run: output buffer %q: %w", info.Name, err)
		}
		out[i], given[i] = v, t
	}
	ro, err := ort.NewRunOptions()
	if err != nil {
		return nil, fmt.Errorf("run options: %w", err)
	}
	defer ro.Destroy()
	done := make(chan struct{})
	defer close(done)
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				ro.Terminate()
			case <-done:
			}
		}()
	}
	err = s.s.RunWithOptions(in, out, ro)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	res := make([]*Tensor, len(out))
	for i, v := range out {
		if given[i] != nil {
			given[i].Name = s.outputs[i].Name
			res[i] = given[i]
			continue
		}
		t, err := fromORT(v)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", s.outputs[i].Name, err)
		}
		t.Name = s.outputs[i].Name
		res[i] = t
	}
	return res, nil
}

func (s *Session) hasInput(name string) bool {
	for _, i := range s.inputs {
		if i.Name == name {
			return true
		}
	}
	return false
}

// destroy releases a value, tolerating the typed nil pointers the binding leaves behind when a
// run fails half-way through converting its outputs.
func destroy(v ort.Value) {
	if v == nil {
		return
	}
	defer func() { _ = recover() }()
	v.Destroy()
}
