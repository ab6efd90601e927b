// Package demo re-exports the assets of the public package github.com/kprune/kprune/demo under
// their old import path, for the tests that still use it (graph and runtime); new code imports
// github.com/kprune/kprune/demo.
package demo

import "github.com/kprune/kprune/demo"

// The demo assets; see package github.com/kprune/kprune/demo.
var (
	Model    = demo.Model
	Vocab    = demo.Vocab
	DevTSV   = demo.DevTSV
	CalibTSV = demo.CalibTSV
)

// MaxLen and DevAccuracy; see package github.com/kprune/kprune/demo.
const (
	MaxLen      = demo.MaxLen
	DevAccuracy = demo.DevAccuracy
)
