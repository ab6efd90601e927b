package graph_test

import (
	"testing"

	"github.com/kprune/kprune/graph"
)

func TestInputRole(t *testing.T) {
	enc := &graph.Encoder{InputIDs: "ids_in", AttentionMask: "m", TokenTypeIDs: "tt", PositionIDs: "pp"}
	cases := []struct {
		enc  *graph.Encoder
		name string
		want string
	}{
		{enc, "ids_in", graph.RoleIDs}, {enc, "m", graph.RoleMask}, {enc, "tt", graph.RoleType}, {enc, "pp", graph.RolePosition},
		{nil, "attention_mask", graph.RoleMask}, {nil, "token_type_ids", graph.RoleType}, {nil, "segment_ids", graph.RoleType},
		{nil, "position_ids", graph.RolePosition}, {nil, "input_ids", graph.RoleIDs}, {nil, "pixel_values", ""},
		{enc, "other_mask", graph.RoleMask},
	}
	for _, c := range cases {
		if got := c.enc.InputRole(c.name); got != c.want {
			t.Errorf("InputRole(%q) with encoder %v = %q, want %q", c.name, c.enc != nil, got, c.want)
		}
	}
}
