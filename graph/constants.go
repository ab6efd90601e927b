package graph

import "github.com/kprune/kprune/onnx"

// initOf returns the initializer behind tensor t as read by node user: t itself when it is an
// initializer, or the initializer at the end of a chain of Identity aliases (legacy torch.onnx
// exports alias shared or deduplicated parameters that way). The second result is the node that
// reads the initializer directly (user, or the first Identity of the chain): a rewrite gives that
// node its own copy, so aliases of the same initializer elsewhere are left alone. It returns ""
// when t is not an initializer seen through aliases.
func (d *disc) initOf(t string, user *onnx.NodeProto) (string, *onnx.NodeProto) {
	for range 64 {
		if d.ix.Initializer(t) != nil {
			return t, user
		}
		p := d.ix.Producer(t)
		if p == nil || !isDefaultDomain(p) || p.GetOpType() != "Identity" {
			return "", nil
		}
		t, user = p.GetInput()[0], p
	}
	return "", nil
}
