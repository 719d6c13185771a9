// Package hflabels holds the label conventions every Hugging Face model
// config shares (PretrainedConfig's id2label, label2id and num_labels), so
// that each model file parses and writes them the same way, and the
// config.json decoding and encoding around them (DecodeConfig, EncodeConfig:
// model_type checked, unknown keys kept).
package hflabels

import (
	"fmt"
	"strconv"
)

// Default returns PretrainedConfig's names for n labels: LABEL_0 ... LABEL_{n-1}.
func Default(n int) map[int]string {
	m := make(map[int]string, n)
	for i := 0; i < n; i++ {
		m[i] = "LABEL_" + strconv.Itoa(i)
	}
	return m
}

// Parse resolves config.json's label fields as transformers does: id2label
// (string keys "0", "1", ...) wins and fixes num_labels; a bare num_labels
// gives the default names; label2id must agree with id2label. It returns nil
// when the file names no labels (the caller keeps its default). Errors name
// the field and the value.
func Parse(id2label map[string]string, numLabels *int, label2id map[string]int) (map[int]string, error) {
	var out map[int]string
	switch {
	case id2label != nil:
		out = make(map[int]string, len(id2label))
		for k, v := range id2label {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 {
				return nil, fmt.Errorf("id2label: key %q is not a label index", k)
			}
			out[i] = v
		}
		for i := range out {
			if i >= len(out) {
				return nil, fmt.Errorf("id2label: indices are not 0..%d (found %d)", len(out)-1, i)
			}
		}
		if numLabels != nil && *numLabels != len(out) {
			return nil, fmt.Errorf("num_labels %d disagrees with id2label's %d entries", *numLabels, len(out))
		}
	case numLabels != nil:
		if *numLabels <= 0 {
			return nil, fmt.Errorf("num_labels %d must be positive", *numLabels)
		}
		out = Default(*numLabels)
	}
	for name, i := range label2id {
		if out != nil && out[i] != name {
			return nil, fmt.Errorf("label2id[%q] = %d but id2label[%d] = %q", name, i, i, out[i])
		}
	}
	return out, nil
}

// Maps returns the id2label and label2id objects config.json stores.
func Maps(id2label map[int]string) (map[string]string, map[string]int) {
	byID := make(map[string]string, len(id2label))
	byName := make(map[string]int, len(id2label))
	for i, name := range id2label {
		byID[strconv.Itoa(i)] = name
		byName[name] = i
	}
	return byID, byName
}
