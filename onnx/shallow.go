package onnx

// ShallowCopy returns a copy of m that can be edited at the model and graph level without
// changing m, at the cost of a few slices rather than of the weights (copying a BERT-base model
// for each rewrite would cost gigabytes):
//
//   - the ModelProto and its GraphProto are new structs holding every field of m's, including
//     the fields unknown to this schema version;
//   - their repeated fields (nodes, initializers, inputs, outputs, value infos, opset imports,
//     metadata, functions, ...) are fresh slices holding m's elements, so entries can be
//     appended, removed or replaced without touching m;
//   - the elements themselves and the scalar fields are shared: nodes, initializers (and their
//     data), value infos and the rest must be replaced, never modified in place.
//
// A model without a graph gets none; a nil m gives nil.
func ShallowCopy(m *ModelProto) *ModelProto {
	if m == nil {
		return nil
	}
	nm := &ModelProto{
		IrVersion:       m.IrVersion,
		OpsetImport:     fresh(m.OpsetImport),
		ProducerName:    m.ProducerName,
		ProducerVersion: m.ProducerVersion,
		Domain:          m.Domain,
		ModelVersion:    m.ModelVersion,
		DocString:       m.DocString,
		Graph:           ShallowCopyGraph(m.Graph),
		MetadataProps:   fresh(m.MetadataProps),
		TrainingInfo:    fresh(m.TrainingInfo),
		Functions:       fresh(m.Functions),
	}
	if u := m.ProtoReflect().GetUnknown(); len(u) > 0 {
		nm.ProtoReflect().SetUnknown(u)
	}
	return nm
}

// ShallowCopyGraph is [ShallowCopy] for a graph alone: a new GraphProto with every field of g,
// whose repeated fields are fresh slices holding g's elements. A nil g gives nil.
func ShallowCopyGraph(g *GraphProto) *GraphProto {
	if g == nil {
		return nil
	}
	ng := &GraphProto{
		Node:                   fresh(g.Node),
		Name:                   g.Name,
		Initializer:            fresh(g.Initializer),
		SparseInitializer:      fresh(g.SparseInitializer),
		DocString:              g.DocString,
		Input:                  fresh(g.Input),
		Output:                 fresh(g.Output),
		ValueInfo:              fresh(g.ValueInfo),
		QuantizationAnnotation: fresh(g.QuantizationAnnotation),
		MetadataProps:          fresh(g.MetadataProps),
	}
	if u := g.ProtoReflect().GetUnknown(); len(u) > 0 {
		ng.ProtoReflect().SetUnknown(u)
	}
	return ng
}

// fresh returns a new slice with s's elements (nil for an empty s).
func fresh[T any](s []T) []T { return append([]T(nil), s...) }
