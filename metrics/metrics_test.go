package metrics

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestForTaskDefaults(t *testing.T) {
	cases := []struct {
		task string
		o    Options
		b    Batch
		keys []string
	}{
		{"text-classification", Options{NumClasses: 2}, Batch{PredIDs: []int64{0, 1}, LabelIDs: []int64{0, 1}},
			[]string{"accuracy", "f1", "matthews_correlation", "precision", "recall"}},
		{"sequence_classification", Options{NumClasses: 3}, Batch{PredIDs: []int64{2}, LabelIDs: []int64{2}},
			[]string{"accuracy", "f1", "matthews_correlation", "precision", "recall"}},
		{"regression", Options{}, Batch{Preds: []float64{1, 2, 3}, Labels: []float64{1, 3, 2}},
			[]string{"mse", "pearson", "spearmanr"}},
		{"multi-label", Options{NumClasses: 2}, Batch{PredIDs: []int64{1, 0}, LabelIDs: []int64{1, 1}, Width: 2},
			[]string{"accuracy", "f1_macro", "f1_micro", "precision_macro", "precision_micro", "recall_macro", "recall_micro"}},
		{"token_classification", Options{LabelNames: []string{"O", "B-X"}}, Batch{PredIDs: []int64{1, 0}, LabelIDs: []int64{1, -100}, Width: 2},
			[]string{"overall_accuracy", "overall_f1", "overall_precision", "overall_recall"}},
		{"question-answering", Options{}, Batch{PredTexts: []string{"x"}, GoldTexts: [][]string{{"x"}}},
			[]string{"exact_match", "f1"}},
		{"qa", Options{SQuADv2: true}, Batch{PredTexts: []string{""}, GoldTexts: [][]string{{}}},
			[]string{"NoAns_exact", "NoAns_f1", "NoAns_total", "exact", "f1", "total"}},
		{"causal_lm", Options{}, Batch{LossSum: 2, Count: 2}, []string{"perplexity"}},
		{"MLM", Options{}, Batch{LossSum: 0, Count: 1}, []string{"perplexity"}},
	}
	for _, c := range cases {
		m, err := ForTask(c.task, c.o)
		if err != nil {
			t.Fatalf("%s: %v", c.task, err)
		}
		if err := m.Add(c.b); err != nil {
			t.Fatalf("%s: %v", c.task, err)
		}
		got := m.Compute()
		keys := slices.Sorted(func(y func(string) bool) {
			for k := range got {
				if !y(k) {
					return
				}
			}
		})
		if !reflect.DeepEqual(keys, c.keys) {
			t.Errorf("%s: keys %v, want %v", c.task, keys, c.keys)
		}
	}
	if _, err := ForTask("summarization", Options{}); err == nil || !strings.Contains(err.Error(), "metrics.Register") {
		t.Errorf("unknown task: err = %v", err)
	}
	if m, _ := ForTask("classification", Options{NumClasses: 2}); m.(*Classification).Average != Binary {
		t.Error("2 classes should default to binary F1")
	}
	if m, _ := ForTask("classification", Options{NumClasses: 4}); m.(*Classification).Average != Macro {
		t.Error("4 classes should default to macro F1")
	}
}

func TestRegisterAndFunc(t *testing.T) {
	// A user hook in HF's compute_metrics shape, registered for a new task.
	mae := Func(func(p, y []float64) map[string]float64 {
		var s float64
		for i := range p {
			s += math.Abs(p[i] - y[i])
		}
		return map[string]float64{"mae": s / float64(len(p))}
	})
	if err := Register("My_Task", func(Options) (Metric, error) { return Multi{NewFunc(mae), NewRegression()}, nil }); err != nil {
		t.Fatal(err)
	}
	m, err := ForTask("my-task", Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Add(Batch{Preds: []float64{1, 2}, Labels: []float64{2, 2}})
	_ = m.Add(Batch{Preds: []float64{4}, Labels: []float64{2}})
	got := m.Compute()
	if got["mae"] != 1 || got["mse"] != 5.0/3 {
		t.Errorf("got %v", got)
	}
	m.Reset()
	_ = m.Add(Batch{Preds: []float64{1}, Labels: []float64{1}})
	if got := m.Compute()["mae"]; got != 0 {
		t.Errorf("after Reset mae = %v", got)
	}
	// ids reach a Func as float64
	f := NewFunc(func(p, y []float64) map[string]float64 {
		return map[string]float64{"n": float64(len(p)), "last": y[len(y)-1]}
	})
	_ = f.Add(Batch{PredIDs: []int64{1, 2}, LabelIDs: []int64{3, 4}})
	if got := f.Compute(); got["n"] != 2 || got["last"] != 4 {
		t.Errorf("ids: %v", got)
	}
	if Register("", nil) == nil {
		t.Error("Register accepted an empty name and nil factory")
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	c, _ := NewClassification(3, Macro)
	for _, b := range []Batch{
		{PredIDs: []int64{0}, LabelIDs: []int64{0, 1}},
		{PredIDs: []int64{3}, LabelIDs: []int64{0}},
	} {
		if err := c.Add(b); err == nil {
			t.Errorf("classification accepted %+v", b)
		}
	}
	if _, err := NewClassification(3, Binary); err == nil || !strings.Contains(err.Error(), "macro") {
		t.Errorf("binary with 3 classes: %v", err)
	}
	if _, err := NewClassification(2, "samples"); err == nil {
		t.Error("unknown average accepted")
	}
	ml, _ := NewMultiLabel(2)
	if err := ml.Add(Batch{PredIDs: []int64{2, 0}, LabelIDs: []int64{1, 0}}); err == nil {
		t.Error("multilabel accepted a non-0/1 prediction")
	}
	if err := NewSQuAD(false).Add(Batch{PredTexts: []string{"x"}, GoldTexts: [][]string{{}}}); err == nil || !strings.Contains(err.Error(), "v2") {
		t.Errorf("v1 with no gold: %v", err)
	}
	s, _ := NewSeqeval([]string{"O"})
	if err := s.Add(Batch{PredIDs: []int64{1}, LabelIDs: []int64{0}}); err == nil {
		t.Error("seqeval accepted an id outside LabelNames")
	}
}

func TestIgnoreIndex(t *testing.T) {
	c, _ := NewClassification(2, Binary)
	_ = c.Add(Batch{PredIDs: []int64{1, 0, 1}, LabelIDs: []int64{1, IgnoreIndex, 0}})
	if got := c.Compute()["accuracy"]; got != 0.5 {
		t.Errorf("accuracy with an ignored label = %v, want 0.5", got)
	}
}

func TestEntities(t *testing.T) {
	got := Entities(strings.Fields("B-PER I-PER O I-LOC B-LOC I-LOC I-ORG"))
	want := []Entity{{"PER", 0, 1}, {"LOC", 3, 3}, {"LOC", 4, 5}, {"ORG", 6, 6}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Entities = %v, want %v", got, want)
	}
}

func TestNormalizeAnswer(t *testing.T) {
	for in, want := range map[string]string{
		"The  Cat!":         "cat",
		"an apple a day":    "apple day",
		"theatre":           "theatre",
		"Anne_Marie":        "annemarie",
		"the_end":           "theend", // punctuation goes first, so no word "the" is left
		"$1,000.00":         "100000",
		"Ünïcode\tSTRASSE ": "ünïcode strasse",
	} {
		if got := NormalizeAnswer(in); got != want {
			t.Errorf("NormalizeAnswer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPerplexityEmptyAndOverflow(t *testing.T) {
	p := NewPerplexity()
	if !math.IsNaN(p.Compute()["perplexity"]) {
		t.Error("perplexity of nothing should be NaN")
	}
	_ = p.Add(Batch{LossSum: 1e4, Count: 1})
	if !math.IsInf(p.Compute()["perplexity"], 1) {
		t.Error("overflowing perplexity should be +Inf")
	}
}
