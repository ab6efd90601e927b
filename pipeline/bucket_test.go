package pipeline

import (
	"testing"

	"github.com/kprune/kprune/prune"
)

func TestDefaultBucket(t *testing.T) {
	def, faithful := prune.DefaultOptions(), prune.FaithfulOptions()
	for _, c := range []struct {
		method string
		opts   *prune.Options
		want   bool
	}{{"kprune", &def, true}, {"", &def, true}, {"kprune", &faithful, false}, {"kwon", &def, false}, {"magnitude", &def, false}} {
		if got := DefaultBucket(c.method, c.opts); got != c.want {
			t.Errorf("DefaultBucket(%q, %s) = %v", c.method, c.opts.Setting("classification"), got)
		}
	}
}
