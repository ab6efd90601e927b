// Package onnx holds kprune's ONNX protobuf schema (onnx.proto) and its generated Go code, and
// the small amount of logic every other package needs around it: loading and saving models
// (atomically, with external data), converting tensors to and from Go slices, and building
// nodes, attributes and value infos.
//
// It knows nothing about encoders, pruning or onnxruntime: see package graph for the structure of
// a model and package runtime for executing one.
package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"
)

// maxProtoBytes is the largest serialised protobuf message (2 GiB); larger models must keep
// their weights in external data files.
const maxProtoBytes = 1<<31 - 1

// Decode parses the bytes of an ONNX model. It checks that the result looks like a model (it has
// a graph and an IR version), so that an arbitrary protobuf or random bytes fail with a clear error.
// External data is not resolved; use Load for files, or ResolveExternalData.
func Decode(b []byte) (*ModelProto, error) {
	if len(b) == 0 {
		return nil, errors.New("empty input: not an ONNX model")
	}
	m := &ModelProto{}
	if err := (proto.UnmarshalOptions{RecursionLimit: 100}).Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("not a valid ONNX model (protobuf decoding failed: %v); is the file truncated or of another format?", err)
	}
	if err := checkModel(m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkModel rejects protobufs that decoded but are not ONNX models.
func checkModel(m *ModelProto) error {
	if m.IrVersion == nil || m.GetIrVersion() <= 0 {
		return errors.New("not an ONNX model: ir_version is missing")
	}
	if m.Graph == nil {
		return errors.New("not an ONNX model: it has no graph")
	}
	if len(m.GetGraph().GetNode()) == 0 {
		return errors.New("not an ONNX model: its graph has no nodes")
	}
	if len(m.GetGraph().GetOutput()) == 0 {
		return errors.New("not an ONNX model: its graph has no outputs")
	}
	if len(m.ProtoReflect().GetUnknown()) > 0 && len(m.GetOpsetImport()) == 0 {
		return errors.New("not an ONNX model: unknown top-level fields and no opset import")
	}
	return nil
}

// Encode serialises a model deterministically. Encoding the result of Decode(Encode(m)) again
// gives identical bytes. Models above 2 GiB must use external data (see SaveOptions).
func Encode(m *ModelProto) ([]byte, error) {
	if m == nil {
		return nil, errors.New("encode: nil model")
	}
	if n := proto.Size(m); n > maxProtoBytes {
		return nil, fmt.Errorf("encode: model is %d bytes, above protobuf's 2 GiB limit; save it with external data", n)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// Load reads an ONNX model file and resolves its external-data tensors (read relative to the
// model's folder) into raw_data, so the returned model is self-contained.
func Load(path string) (*ModelProto, error) {
	b, release, err := readMapped(path)
	if err != nil {
		return nil, fmt.Errorf("reading ONNX model: %w", err)
	}
	m, err := Decode(b)
	release()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := ResolveExternalData(m, filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ResolveExternalData reads every tensor stored in external data files (initializers, and
// tensors in node attributes) into its raw_data field, relative to dir.
func ResolveExternalData(m *ModelProto, dir string) error {
	var firstErr error
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	WalkTensors(m.GetGraph(), func(t *TensorProto) {
		if firstErr != nil || t.GetDataLocation() != TensorProto_EXTERNAL {
			return
		}
		if err := readExternal(t, dir, files); err != nil {
			firstErr = fmt.Errorf("tensor %q: %w", t.GetName(), err)
		}
	})
	return firstErr
}

func readExternal(t *TensorProto, dir string, files map[string]*os.File) error {
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range t.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil {
			return fmt.Errorf("external data %s=%q: %w", kv.GetKey(), kv.GetValue(), err)
		}
	}
	if loc == "" {
		return errors.New("external data without a location")
	}
	if filepath.IsAbs(loc) || !filepath.IsLocal(loc) {
		return fmt.Errorf("external data location %q must be a relative path inside the model's folder", loc)
	}
	p := filepath.Join(dir, loc)
	f, ok := files[p]
	if !ok {
		var err error
		f, err = os.Open(p)
		if err != nil {
			return fmt.Errorf("opening external data file: %w", err)
		}
		files[p] = f
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if offset < 0 || length < 0 || offset+length > st.Size() {
		return fmt.Errorf("external data %s: range [%d, %d) is outside the file (%d bytes)", p, offset, offset+length, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return fmt.Errorf("reading external data %s: %w", p, err)
	}
	t.RawData = buf
	t.ExternalData = nil
	t.DataLocation = nil
	return nil
}

// WalkTensors calls fn for every initializer of g and every tensor held in node attributes,
// descending into subgraphs.
func WalkTensors(g *GraphProto, fn func(*TensorProto)) {
	if g == nil {
		return
	}
	for _, t := range g.GetInitializer() {
		fn(t)
	}
	for _, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			if a.T != nil {
				fn(a.T)
			}
			for _, t := range a.GetTensors() {
				fn(t)
			}
			WalkTensors(a.G, fn)
			for _, sg := range a.GetGraphs() {
				WalkTensors(sg, fn)
			}
		}
	}
}

// SaveOptions controls Save.
type SaveOptions struct {
	// Overwrite allows replacing an existing file. Without it Save refuses, so that an input
	// model is never overwritten by accident.
	Overwrite bool
	// ExternalData writes every tensor of at least ExternalThreshold bytes into one data file
	// next to the model, named after it with a ".data" suffix. It is forced on when the model
	// would not fit in a 2 GiB protobuf.
	ExternalData bool
	// ExternalThreshold is the smallest tensor (in bytes) moved to external data; 0 means 1024.
	ExternalThreshold int
}

// Clone returns a deep copy of m.
func Clone(m *ModelProto) *ModelProto { return proto.Clone(m).(*ModelProto) }

// Opset returns the model's opset version for the default ("" or "ai.onnx") domain, or 0.
func Opset(m *ModelProto) int64 {
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 0
}
