package hflabels

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	three := 3
	got, err := Parse(map[string]string{"0": "neg", "1": "neu", "2": "pos"}, &three, map[string]int{"pos": 2})
	if err != nil || len(got) != 3 || got[2] != "pos" {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := Parse(nil, &three, nil); err != nil || got[1] != "LABEL_1" {
		t.Fatalf("num_labels only: %v %v", got, err)
	}
	if got, err := Parse(nil, nil, nil); err != nil || got != nil {
		t.Fatalf("no labels: %v %v", got, err)
	}
	two := 2
	for _, c := range []struct {
		id2label map[string]string
		n        *int
		label2id map[string]int
		want     string
	}{
		{map[string]string{"a": "x"}, nil, nil, `id2label: key "a"`},
		{map[string]string{"0": "x", "5": "y"}, nil, nil, "indices are not 0..1"},
		{map[string]string{"0": "x"}, &two, nil, "num_labels 2 disagrees"},
		{map[string]string{"0": "x", "1": "y"}, nil, map[string]int{"x": 1}, `label2id["x"] = 1 but id2label[1] = "y"`},
	} {
		if _, err := Parse(c.id2label, c.n, c.label2id); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c, err, c.want)
		}
	}
	byID, byName := Maps(map[int]string{0: "neg", 1: "pos"})
	if byID["1"] != "pos" || byName["neg"] != 0 {
		t.Fatalf("%v %v", byID, byName)
	}
}

func TestDecodeEncodeConfig(t *testing.T) {
	var dim int
	var dropout *float64
	fields := map[string]any{"dim": &dim, "dropout": &dropout}
	labels, extra, err := DecodeConfig([]byte(`{"model_type": "x", "dim": 8, "dropout": null, "num_labels": 3, "tie_weights_": true, "a": [1, 2]}`),
		"x", fields, map[string]bool{"dropout": true})
	if err != nil || dim != 8 || dropout != nil || len(labels) != 3 || string(extra["a"]) != "[1,2]" || string(extra["tie_weights_"]) != "true" || len(extra) != 2 {
		t.Fatalf("%v: dim %d, dropout %v, labels %v, extra %v", err, dim, dropout, labels, extra)
	}
	dim = 4
	if _, _, err := DecodeConfig([]byte(`{"model_type": "x", "dim": null}`), "x", fields, nil); err != nil || dim != 4 {
		t.Errorf("null not nullable: %v, dim %d", err, dim)
	}
	for _, c := range []struct{ json, want string }{
		{`{"model_type": "y"}`, `model_type "y" is not "x"`},
		{`{"dim": 8}`, `model_type "" is not "x"`},
		{`{"model_type": "x", "dim": "8"}`, "dim: json"},
		{`{"model_type": "x", "id2label": {"a": "b"}}`, `id2label: key "a"`},
		{`{"model_type": `, "unexpected end"},
	} {
		if _, _, err := DecodeConfig([]byte(c.json), "x", fields, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.json, err, c.want)
		}
	}
	b, err := EncodeConfig("x", map[string]any{"dim": 8}, Default(2), extra)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "a": [
    1,
    2
  ],
  "dim": 8,
  "id2label": {
    "0": "LABEL_0",
    "1": "LABEL_1"
  },
  "label2id": {
    "LABEL_0": 0,
    "LABEL_1": 1
  },
  "model_type": "x",
  "tie_weights_": true
}`
	if string(b) != want {
		t.Errorf("EncodeConfig:\n%s\nwant\n%s", b, want)
	}
}
