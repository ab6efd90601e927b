package bench

import (
	"reflect"
	"testing"
)

func TestParseThreadsAndValidate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		ok   bool
	}{{"1,2", []int{1, 2}, true}, {" 0 ", []int{0}, true}, {"1,,2", nil, false}, {"-1", nil, false}, {"two", nil, false}} {
		got, err := ParseThreads(c.in)
		if (err == nil) != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseThreads(%q) = %v, %v", c.in, got, err)
		}
	}
	for _, c := range []struct {
		o  LatencyOptions
		ok bool
	}{{LatencyOptions{Batch: 1, Seq: 8, Runs: 1}, true}, {LatencyOptions{Batch: 1, Seq: 8, Runs: 0}, false}, {LatencyOptions{Batch: 1, Seq: 8, Runs: 1, Warmup: -1}, false}, {LatencyOptions{Seq: 8, Runs: 1}, false}} {
		if err := c.o.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v", c.o, err)
		}
	}
}
