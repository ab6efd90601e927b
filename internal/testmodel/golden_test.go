package testmodel

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/kprune/kprune/onnx"
)

// defaultModelHashes are the SHA-256 prefixes of the encoded models of modelCases (seed = index)
// as built before the exporter spellings were added (issue 11). The spelling options must leave
// models that do not use them byte-identical, so the tests of other packages keep their models.
var defaultModelHashes = []string{
	"edd9fb0f04a67b75", "09c249bd42929b0a", "4ffab9d7398117b7", "190e1c9cc35d2aee",
	"c4a7e39bb7b558da", "fb163bb5a51bf745", "3c22998cdc3b56ec", "f86d296c82b275fb",
	"b59d71f7913a6ed3", "a37f2e648c0ad131", "e358d40b93bc6430", "986f57e3e3730dc9",
	"3a4b0e76c011491c", "fa5216be88fcb1f3", "4b3c9fc084482ce1", "97f214ba72b9d3ff",
	"5d6d0982ac165cb2", "1c5b8e665f9c7240",
}

// TestDefaultModelsUnchanged checks that the zero-valued spelling options build the same bytes
// as before they existed.
func TestDefaultModelsUnchanged(t *testing.T) {
	cases := modelCases()
	if len(cases) < len(defaultModelHashes) {
		t.Fatalf("%d model cases, want at least %d", len(cases), len(defaultModelHashes))
	}
	for i, want := range defaultModelHashes {
		cfg := cases[i]
		cfg.Seed = uint64(i)
		m, err := Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := onnx.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(b))[:16]; got != want {
			t.Errorf("case %d (%+v): model hash %s, want %s (the default spelling changed)", i, cases[i], got, want)
		}
	}
}
