package quantize

import (
	"reflect"
	"testing"
)

func TestParseNodeList(t *testing.T) {
	for in, want := range map[string][]string{"": nil, "a": {"a"}, " a , ,b ": {"a", "b"}} {
		if got := ParseNodeList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseNodeList(%q) = %q, want %q", in, got, want)
		}
	}
}
