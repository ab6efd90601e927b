package prune_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/kprune/kprune/internal/demo"
	"github.com/kprune/kprune/prune"
)

// declaredPhases parses progress.go and returns the values of the constants of type Phase, and
// the quoted values that the comment of Progress.Phase lists.
func declaredPhases(t *testing.T) (consts, documented []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "progress.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			if id, ok := n.Type.(*ast.Ident); ok && id.Name == "Phase" {
				for _, v := range n.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						t.Fatalf("a Phase constant is not a string literal: %T", v)
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					consts = append(consts, s)
				}
			}
		case *ast.TypeSpec:
			st, ok := n.Type.(*ast.StructType)
			if n.Name.Name != "Progress" || !ok {
				return true
			}
			for _, fld := range st.Fields.List {
				if len(fld.Names) == 1 && fld.Names[0].Name == "Phase" && fld.Comment != nil {
					for _, m := range regexp.MustCompile(`"([a-z]+)"`).FindAllStringSubmatch(fld.Comment.Text(), -1) {
						documented = append(documented, m[1])
					}
				}
			}
		}
		return true
	})
	return consts, documented
}

// TestProgressPhases checks the progress phases: the comment of Progress.Phase lists exactly the
// declared constants, a small K-prune and a small Kwon run on the demo model report only declared
// phases and between them every one, and no Progress literal in the package spells a phase
// as a string.
func TestProgressPhases(t *testing.T) {
	consts, documented := declaredPhases(t)
	slices.Sort(consts)
	slices.Sort(documented)
	if len(consts) == 0 || !slices.Equal(consts, documented) {
		t.Fatalf("Phase constants %q, but the comment of Progress.Phase lists %q", consts, documented)
	}
	literalPhases(t)

	m := demoModel(t)
	calib, calibLabels := demoSet(t, demo.CalibTSV, 48)
	labels := labelsPerBatch(t, calibLabels, calib)
	seen := map[prune.Phase]bool{}
	record := func(method string) func(prune.Progress) {
		return func(p prune.Progress) {
			if !slices.Contains(consts, string(p.Phase)) {
				t.Errorf("%s reported phase %q, which is not a declared Phase constant", method, p.Phase)
			}
			seen[p.Phase] = true
		}
	}
	opts := prune.DefaultOptions()
	opts.Reduction, opts.Threads = 0.5, 2
	if _, err := prune.KPrune(context.Background(), m, calib, opts, record("K-prune")); err != nil {
		t.Fatal(err)
	}
	if _, err := prune.Kwon(context.Background(), m, calib, labels, prune.KwonOptions{Reduction: 0.5, Runtime: prune.Runtime{Threads: 2}}, record("Kwon")); err != nil {
		t.Fatal(err)
	}
	for _, c := range consts {
		if !seen[prune.Phase(c)] {
			t.Errorf("declared phase %q was never reported by either run", c)
		}
	}
}

// literalPhases fails when a Progress literal in the package's sources gives its Phase as a
// string literal instead of a constant.
func literalPhases(t *testing.T) {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Phase" {
				if _, lit := kv.Value.(*ast.BasicLit); lit {
					t.Errorf("%s: Phase given as a string literal", fset.Position(kv.Pos()))
				}
			}
			return true
		})
	}
}
