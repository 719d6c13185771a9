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
