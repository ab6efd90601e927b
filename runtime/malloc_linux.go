//go:build linux && cgo

package runtime

/*
#include <malloc.h>

static void kprune_tune_malloc(void) {
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_TRIM_THRESHOLD, 0);
}
*/
import "C"

import "sync"

var tuneOnce sync.Once

// tuneAllocator makes glibc's malloc give large blocks back to the system as soon as onnxruntime
// frees them (fixed mmap threshold, immediate trimming, at most two arenas). Without it, the
// dynamic mmap threshold and per-thread arenas keep freed activation buffers resident, and the
// process's memory ratchets up with every session. It applies to the whole process, once.
func tuneAllocator() { tuneOnce.Do(func() { C.kprune_tune_malloc() }) }
