package metrics_test

import (
	"fmt"

	"github.com/kiln-ml/kiln/metrics"
)

// Evaluation feeds argmax ids batch by batch; nothing but counts is kept.
func Example() {
	m, err := metrics.ForTask("text-classification", metrics.Options{NumClasses: 2})
	if err != nil {
		panic(err)
	}
	batches := []metrics.Batch{
		{PredIDs: []int64{1, 0, 1}, LabelIDs: []int64{1, 0, 0}},
		{PredIDs: []int64{1, 1}, LabelIDs: []int64{1, 1}},
	}
	for _, b := range batches {
		if err := m.Add(b); err != nil {
			panic(err)
		}
	}
	s := m.Compute()
	fmt.Printf("accuracy %.2f f1 %.4f mcc %.4f\n", s["accuracy"], s["f1"], s["matthews_correlation"])
	// Output: accuracy 0.80 f1 0.8571 mcc 0.6124
}

// Token classification with -100 at special tokens and sub-words, as run_ner.
func ExampleSeqeval() {
	names := []string{"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}
	m, _ := metrics.NewSeqeval(names)
	_ = m.Add(metrics.Batch{
		Width:    6, // [2, 6] row-major
		LabelIDs: []int64{-100, 1, 2, 0, 3, -100, -100, 0, 3, 4, -100, -100},
		PredIDs:  []int64{0, 1, 2, 0, 0, 0, 0, 0, 3, 4, 0, 0},
	})
	s := m.Compute()
	fmt.Printf("precision %.2f recall %.2f f1 %.2f\n", s["overall_precision"], s["overall_recall"], s["overall_f1"])
	// Output: precision 1.00 recall 0.67 f1 0.80
}

// SQuAD v1.1 exact match and F1 take the best gold answer.
func ExampleSQuAD() {
	m := metrics.NewSQuAD(false)
	_ = m.Add(metrics.Batch{
		PredTexts: []string{"The Eiffel Tower", "in 1889"},
		GoldTexts: [][]string{{"Eiffel Tower", "the tower"}, {"1889"}},
	})
	s := m.Compute()
	fmt.Printf("exact_match %.1f f1 %.1f\n", s["exact_match"], s["f1"])
	// Output: exact_match 50.0 f1 83.3
}
