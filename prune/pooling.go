package prune

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
)

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

// DetectPooling reads the pooling of the sentence-transformers model a model file belongs to:
// the Pooling module's config.json (named by modules.json, else 1_Pooling/config.json) in the
// model file's folder or the folder above it (Hugging Face repositories keep their ONNX files in
// onnx/). It returns nil and no error when there is no such configuration, and an error naming
// the file when it cannot be read or declares a pooling other than mean or CLS
// ([ErrUnsupportedPooling]).
func DetectPooling(modelPath string) (*DetectedPooling, error) {
	dir := filepath.Dir(modelPath)
	for _, d := range []string{dir, filepath.Dir(dir)} {
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
// none.
func poolingConfigPath(dir string) (string, error) {
	modules := filepath.Join(dir, "modules.json")
	raw, err := os.ReadFile(modules)
	if err == nil {
		var ms []stModule
		if err := json.Unmarshal(raw, &ms); err != nil {
			return "", fmt.Errorf("%s: %w", modules, err)
		}
		for _, m := range ms {
			if strings.HasSuffix(m.Type, ".Pooling") || m.Type == "Pooling" {
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
// graph.HeadNone): pooling itself when the caller chose one, else the one the first of
// modelPaths whose folder has a sentence-transformers configuration declares ([DetectPooling];
// source names the file), else "" (mean). For other heads it returns pooling unchanged: their
// pooling, if any, is in the graph, and a folder's configuration is not read.
func ResolvePooling(pooling string, enc *graph.Encoder, modelPaths ...string) (resolved, source string, err error) {
	if pooling != "" || enc == nil || enc.Head != graph.HeadNone {
		return pooling, "", nil
	}
	for _, p := range modelPaths {
		if p == "" {
			continue
		}
		d, err := DetectPooling(p)
		if err != nil {
			return "", "", err
		}
		if d != nil {
			return d.Pooling, d.Source, nil
		}
	}
	return "", "", nil
}
