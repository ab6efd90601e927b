package prune

// This file reads what a model's folder says beside the ONNX file: the tokenizer, the class names
// of a Hugging Face config.json, the pooling of a sentence-transformers model. Each looks in the
// model file's folder, then in the folder above it (Hugging Face repositories keep their ONNX
// files in onnx/).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
)

// OpenTokenizer loads the tokenizer at path, else a tokenizer.json or vocab.txt next to the
// first of the models that has one, else in the folder above the first that has one there
// (Hugging Face repositories keep their ONNX files in onnx/ and the tokenizer at the top).
// Without either it returns nil and no error: data files of token ids (JSONL input_ids) need no
// tokenizer, and text records then fail with a message saying a tokenizer is needed.
func OpenTokenizer(path string, modelPaths ...string) (*data.Tokenizer, error) {
	if path != "" {
		return data.LoadTokenizer(path)
	}
	for _, dir := range searchDirs(modelPaths) {
		for _, n := range []string{"tokenizer.json", "vocab.txt"} {
			if p := filepath.Join(dir, n); fileExists(p) {
				return data.LoadTokenizer(p)
			}
		}
	}
	return nil, nil
}

// searchDirs are the folders where files beside the models at modelPaths are looked for, in
// order: each model's folder, then each model's parent folder; empty paths and repeats left out.
func searchDirs(modelPaths []string) []string {
	var dirs []string
	for _, up := range []bool{false, true} {
		for _, mp := range modelPaths {
			if mp == "" {
				continue
			}
			dir := filepath.Dir(mp)
			if up {
				dir = filepath.Dir(dir)
			}
			if !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
	}
	return dirs
}

// ClassNames reads the class names, by id, of the Hugging Face model the first of modelPaths
// belongs to that has them: the id2label of the config.json in the model file's folder, else
// of the one in the folder above it. It returns nil and no error when there is none, or when
// the names are the generic LABEL_0, LABEL_1, ... (which say nothing about the data's labels).
func ClassNames(modelPaths ...string) (names []string, source string, err error) {
	for _, dir := range searchDirs(modelPaths) {
		p := filepath.Join(dir, "config.json")
		if !fileExists(p) {
			continue
		}
		names, err := readClassNames(p)
		if err != nil || names != nil {
			return names, p, err
		}
	}
	return nil, "", nil
}

// readClassNames reads the id2label of a Hugging Face config.json: nil when it has none or only
// generic names, an error naming the file when it is malformed or its ids are not 0..n-1.
func readClassNames(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c struct {
		ID2Label map[string]string `json:"id2label"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	names := make([]string, len(c.ID2Label))
	generic := true
	for k, v := range c.ID2Label {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= len(names) || names[id] != "" {
			return nil, fmt.Errorf("%s: id2label: ids must be 0 to %d, found %q", path, len(names)-1, k)
		}
		names[id] = v
		generic = generic && v == fmt.Sprintf("LABEL_%d", id)
	}
	if generic {
		return nil, nil
	}
	return names, nil
}

// ErrUnsupportedPooling is returned (wrapped) by [DetectPooling] when a model folder's
// sentence-transformers configuration pools in a way the predictive loss does not implement
// (max, weighted mean, last token, several modes concatenated). Passing a pooling explicitly
// (Options.Pooling, --pooling) overrides it.
var ErrUnsupportedPooling = errors.New("unsupported sentence-transformers pooling")

// DetectedPooling is the pooling a sentence-transformers model folder declares for its embeddings.
type DetectedPooling struct {
	// Pooling is autodiff.PoolMean or autodiff.PoolCLS.
	Pooling string
	// Source is the configuration file it was read from.
	Source string
}

// stPooling is the part of a sentence-transformers Pooling module's config.json that says how
// token embeddings become a sentence embedding: one boolean per mode (older and current
// versions), or one "pooling_mode" string (some exporters).
type stPooling struct {
	Mode        string `json:"pooling_mode"`
	CLS         bool   `json:"pooling_mode_cls_token"`
	Mean        bool   `json:"pooling_mode_mean_tokens"`
	Max         bool   `json:"pooling_mode_max_tokens"`
	MeanSqrtLen bool   `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMn  bool   `json:"pooling_mode_weightedmean_tokens"`
	LastToken   bool   `json:"pooling_mode_lasttoken"`
}

// stModule is one entry of a sentence-transformers modules.json.
type stModule struct {
	Path string `json:"path"`
	Type string `json:"type"`
}

// DetectPooling reads the pooling of the sentence-transformers model the first of modelPaths
// belongs to that has one: the Pooling module's config.json (named by modules.json, else
// 1_Pooling/config.json) in the model file's folder, else in the folder above it. It returns nil
// and no error when there is no such configuration, and an error naming the file when it cannot
// be read or declares a pooling other than mean or CLS ([ErrUnsupportedPooling]).
func DetectPooling(modelPaths ...string) (*DetectedPooling, error) {
	for _, d := range searchDirs(modelPaths) {
		p, err := poolingConfigPath(d)
		if err != nil {
			return nil, err
		}
		if p == "" {
			continue
		}
		pooling, err := readPoolingConfig(p)
		if err != nil {
			return nil, err
		}
		return &DetectedPooling{Pooling: pooling, Source: p}, nil
	}
	return nil, nil
}

// poolingConfigPath returns the Pooling module's config.json in folder dir, or "" when dir has
// none. A Normalize module after it is not read: the loss on the un-normalised pooled embedding
// did as well or better on all-MiniLM-L6-v2 (docs/results/defaults.md); --pooling mean+norm
// asks for the normalised one.
func poolingConfigPath(dir string) (string, error) {
	modules := filepath.Join(dir, "modules.json")
	raw, err := os.ReadFile(modules)
	if err == nil {
		var ms []stModule
		if err := json.Unmarshal(raw, &ms); err != nil {
			return "", fmt.Errorf("%s: %w", modules, err)
		}
		for _, m := range ms {
			if m.Type == "Pooling" || strings.HasSuffix(m.Type, ".Pooling") {
				if p := filepath.Join(dir, m.Path, "config.json"); fileExists(p) {
					return p, nil
				}
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if p := filepath.Join(dir, "1_Pooling", "config.json"); fileExists(p) {
		return p, nil
	}
	return "", nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// readPoolingConfig reads a Pooling module's config.json and returns its pooling.
func readPoolingConfig(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var c stPooling
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	var modes []string
	if c.Mode != "" {
		modes = append(modes, strings.TrimSuffix(strings.ToLower(c.Mode), "_token"))
	}
	for _, m := range []struct {
		on   bool
		name string
	}{{c.CLS, "cls"}, {c.Mean, "mean"}, {c.Max, "max"}, {c.MeanSqrtLen, "mean_sqrt_len_tokens"}, {c.WeightedMn, "weightedmean"}, {c.LastToken, "lasttoken"}} {
		if m.on && (len(modes) == 0 || modes[0] != m.name) {
			modes = append(modes, m.name)
		}
	}
	switch {
	case len(modes) == 0:
		return "", fmt.Errorf("%s: %w: no pooling mode is on", path, ErrUnsupportedPooling)
	case len(modes) > 1:
		return "", fmt.Errorf("%s: %w: %s concatenated; kprune's loss implements mean or cls pooling alone (pass --pooling mean or cls to prune with one of them)", path, ErrUnsupportedPooling, strings.Join(modes, " + "))
	case modes[0] == autodiff.PoolMean, modes[0] == autodiff.PoolCLS:
		return modes[0], nil
	}
	return "", fmt.Errorf("%s: %w: %s pooling; kprune's loss implements mean or cls pooling (pass --pooling mean or cls to prune with one of them)", path, ErrUnsupportedPooling, modes[0])
}

// ResolvePooling returns the pooling of a model without a head (hidden states only, enc.Head
// graph.HeadNone): pooling itself when the caller chose one, else the one a sentence-transformers
// configuration beside modelPaths declares ([DetectPooling]; source names the file), else ""
// (mean). For other heads it returns pooling unchanged: their
// pooling, if any, is in the graph, and a folder's configuration is not read.
func ResolvePooling(pooling string, enc *graph.Encoder, modelPaths ...string) (resolved, source string, err error) {
	if pooling != "" || enc == nil || enc.Head != graph.HeadNone {
		return pooling, "", nil
	}
	d, err := DetectPooling(modelPaths...)
	if err != nil || d == nil {
		return "", "", err
	}
	return d.Pooling, d.Source, nil
}
