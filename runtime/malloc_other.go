//go:build !linux || !cgo

package runtime

// tuneAllocator is a no-op where glibc's mallopt is not available.
func tuneAllocator() {}
