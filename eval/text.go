package eval

import (
	"fmt"
	"io"
)

// WriteText writes the result as the indented list `kprune eval` prints: the model, data and
// head, then every metric that was measured, one a line.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "model %s on %s (%d examples, %s head)\n", r.Model, r.Data, r.Examples, r.Head)
	show := func(name string, v *float64) {
		if v != nil {
			fmt.Fprintf(w, "  %-10s %.4f\n", name, *v)
		}
	}
	show("accuracy", r.Accuracy)
	show("f1", r.F1)
	show("matthews", r.Matthews)
	show("pearson", r.Pearson)
	show("spearman", r.Spearman)
	show("agreement", r.Agreement)
	show("mean_kl", r.MeanKL)
	if r.Unlabelled {
		fmt.Fprintf(w, "  (%s has no labels: agreement with the teacher only)\n", r.Data)
	}
}
