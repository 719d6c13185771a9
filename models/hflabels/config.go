package hflabels

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ReadConfig reads dir/config.json (or the file itself if path is a file)
// and decodes it with parse; errors name the file.
func ReadConfig[C any](path string, parse func([]byte) (C, error)) (C, error) {
	var zero C
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return zero, err
	}
	c, err := parse(b)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// WriteConfig writes c, a config that marshals itself (EncodeConfig), as
// dir/config.json with a final newline, as save_pretrained does.
func WriteConfig(dir string, c json.Marshaler) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}

// DecodeConfig decodes a config.json the way every kiln model file does.
// The model's own keys go to fields (key -> pointer; a JSON null keeps the
// pointer's default unless nullable[key]); model_type must be modelType;
// id2label, num_labels and label2id are resolved by Parse (labels is nil when
// the file names none); every other key is kept, compacted, in extra, so
// that saving writes it back. Errors name the key.
func DecodeConfig(b []byte, modelType string, fields map[string]any, nullable map[string]bool) (labels map[int]string, extra map[string]json.RawMessage, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, err
	}
	var (
		got       string
		numLabels *int
		label2id  map[string]int
		id2label  map[string]string
	)
	shared := map[string]any{"model_type": &got, "num_labels": &numLabels, "label2id": &label2id, "id2label": &id2label}
	extra = map[string]json.RawMessage{}
	for k, v := range raw {
		dst, ok := shared[k]
		if !ok {
			dst, ok = fields[k]
		}
		if !ok {
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", k, err)
			}
			extra[k] = buf.Bytes()
			continue
		}
		if string(v) == "null" && !nullable[k] {
			continue // HF writes null for some unset optional values; keep the default
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if got != modelType {
		return nil, nil, fmt.Errorf("model_type %q is not %q", got, modelType)
	}
	labels, err = Parse(id2label, numLabels, label2id)
	return labels, extra, err
}

// EncodeConfig writes a config.json as PretrainedConfig.to_json_string does
// (sorted keys, two-space indent): the extra keys, the model's fields,
// model_type, and the labels as id2label and label2id (not num_labels).
func EncodeConfig(modelType string, fields map[string]any, id2label map[int]string, extra map[string]json.RawMessage) ([]byte, error) {
	m := make(map[string]any, len(extra)+len(fields)+3)
	for k, v := range extra {
		m[k] = v
	}
	for k, v := range fields {
		m[k] = v
	}
	m["model_type"] = modelType
	m["id2label"], m["label2id"] = Maps(id2label)
	return json.MarshalIndent(m, "", "  ")
}
