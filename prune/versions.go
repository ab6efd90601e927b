package prune

import (
	goruntime "runtime"

	ort "github.com/kprune/kprune/runtime"
)

// CurrentVersions returns the versions of a run for its report: kprune (the caller's version
// string), the Go toolchain, and onnxruntime when its library loads (empty otherwise).
func CurrentVersions(kprune string) Versions {
	v := Versions{Kprune: kprune, Go: goruntime.Version()}
	if ort.Init() == nil {
		_, v.ONNXRuntime = ort.Library()
	}
	return v
}
