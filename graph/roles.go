package graph

import "strings"

// Roles of model inputs (see Encoder.InputRole).
const (
	RoleIDs      = "ids"      // token ids
	RoleMask     = "mask"     // attention mask
	RoleType     = "type"     // token type (segment) ids
	RolePosition = "position" // position ids
)

// InputRole tells what the model input name holds: by the names discovery found when e is not
// nil, else by the names exporters use (…mask, token_type…/segment…, position…, input_ids).
// It returns "" when neither tells.
func (e *Encoder) InputRole(name string) string {
	if e != nil {
		switch name {
		case e.InputIDs:
			return RoleIDs
		case e.AttentionMask:
			return RoleMask
		case e.TokenTypeIDs:
			return RoleType
		case e.PositionIDs:
			return RolePosition
		}
	}
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "mask"):
		return RoleMask
	case strings.Contains(n, "token_type") || strings.Contains(n, "segment"):
		return RoleType
	case strings.Contains(n, "position"):
		return RolePosition
	case strings.Contains(n, "input_ids") || n == "ids":
		return RoleIDs
	}
	return ""
}
