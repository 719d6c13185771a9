package metrics

import "fmt"

// MultiLabel reports f1_micro, f1_macro, precision_micro, recall_micro,
// precision_macro, recall_macro and accuracy (subset accuracy: every label
// of an example right) from multi-hot predictions and labels:
// Batch.PredIDs and Batch.LabelIDs, [N, NumLabels] row-major, 0 or 1
// (threshold the sigmoid outputs first). A label IgnoreIndex skips that one
// cell in the per-label counts, and the example in subset accuracy.
//
// As sklearn on indicator arrays, macro averages run over all NumLabels
// columns, including ones never predicted nor present (they score 0).
type MultiLabel struct {
	NumLabels        int
	tp, pred, actual []int64
	exact, examples  int64
}

// NewMultiLabel returns a multi-label metric for numLabels labels.
func NewMultiLabel(numLabels int) (*MultiLabel, error) {
	if numLabels < 1 {
		return nil, fmt.Errorf("metrics: multilabel: NumClasses = %d; it must be >= 1 (set num_labels)", numLabels)
	}
	return &MultiLabel{NumLabels: numLabels, tp: make([]int64, numLabels), pred: make([]int64, numLabels), actual: make([]int64, numLabels)}, nil
}

// Add counts the batch.
func (m *MultiLabel) Add(b Batch) error {
	L := m.NumLabels
	if b.Width != 0 && b.Width != L {
		return fmt.Errorf("metrics: multilabel: batch Width = %d but the metric has %d labels", b.Width, L)
	}
	if len(b.PredIDs) != len(b.LabelIDs) || len(b.PredIDs)%L != 0 {
		return fmt.Errorf("metrics: multilabel: %d predictions and %d labels; both must be the same multiple of %d labels", len(b.PredIDs), len(b.LabelIDs), L)
	}
	for row := 0; row < len(b.PredIDs); row += L {
		all, ignored := true, false
		for j := 0; j < L; j++ {
			p, y := b.PredIDs[row+j], b.LabelIDs[row+j]
			if y == IgnoreIndex {
				ignored = true
				continue
			}
			if (p != 0 && p != 1) || (y != 0 && y != 1) {
				return fmt.Errorf("metrics: multilabel: example %d label %d has prediction %d, target %d; both must be 0 or 1", row/L, j, p, y)
			}
			m.tp[j] += p & y
			m.pred[j] += p
			m.actual[j] += y
			all = all && p == y
		}
		if !ignored {
			m.examples++
			if all {
				m.exact++
			}
		}
	}
	return nil
}

// Reset clears the counts.
func (m *MultiLabel) Reset() {
	clear(m.tp)
	clear(m.pred)
	clear(m.actual)
	m.exact, m.examples = 0, 0
}

// Compute reports the scores.
func (m *MultiLabel) Compute() map[string]float64 {
	L := m.NumLabels
	tp, pred, tru := make([]float64, L), make([]float64, L), make([]float64, L)
	used := make([]bool, L)
	for j := range L {
		tp[j], pred[j], tru[j], used[j] = float64(m.tp[j]), float64(m.pred[j]), float64(m.actual[j]), true
	}
	pi, ri, fi := prf(Micro, 0, tp, pred, tru, used)
	pa, ra, fa := prf(Macro, 0, tp, pred, tru, used)
	return map[string]float64{
		"f1_micro": fi, "precision_micro": pi, "recall_micro": ri,
		"f1_macro": fa, "precision_macro": pa, "recall_macro": ra,
		"accuracy": div(float64(m.exact), float64(m.examples)),
	}
}
