package metrics

import (
	"fmt"
	"math"
)

// Average is how per-class precision, recall and F1 combine, as sklearn's
// average argument.
type Average string

// The averages sklearn's precision_recall_fscore_support knows.
const (
	// Binary reports the scores of PosLabel only.
	Binary Average = "binary"
	// Micro pools true positives, false positives and false negatives over
	// the classes first (for single-label data it equals accuracy).
	Micro Average = "micro"
	// Macro is the unweighted mean over classes.
	Macro Average = "macro"
	// Weighted is the mean over classes weighted by their true count.
	Weighted Average = "weighted"
)

// Classification accumulates a confusion matrix from predicted and true class
// ids (Batch.PredIDs, Batch.LabelIDs, [N]; label IgnoreIndex skipped) and
// reports accuracy, precision, recall, f1 and matthews_correlation.
//
// As sklearn with its default labels=None, macro and weighted averages run
// over the classes that occur among the labels or the predictions so far,
// not over all NumClasses.
type Classification struct {
	NumClasses int
	Average    Average
	// PosLabel is the positive class of a Binary average (default 1).
	PosLabel int
	cm       []int64 // [true, pred] row-major, NumClasses²
}

// NewClassification returns a classification metric for numClasses classes;
// Binary needs numClasses == 2.
func NewClassification(numClasses int, avg Average) (*Classification, error) {
	if numClasses < 1 {
		return nil, fmt.Errorf("metrics: classification: NumClasses = %d; it must be >= 1 (set num_labels)", numClasses)
	}
	switch avg {
	case Binary:
		if numClasses > 2 {
			return nil, fmt.Errorf("metrics: classification: average %q needs 2 classes, got %d; use macro, micro or weighted", avg, numClasses)
		}
	case Micro, Macro, Weighted:
	default:
		return nil, fmt.Errorf("metrics: classification: average %q unknown (want binary, micro, macro or weighted)", avg)
	}
	return &Classification{NumClasses: numClasses, Average: avg, PosLabel: 1, cm: make([]int64, numClasses*numClasses)}, nil
}

// Add counts the batch's (label, prediction) pairs.
func (c *Classification) Add(b Batch) error {
	if len(b.PredIDs) != len(b.LabelIDs) {
		return fmt.Errorf("metrics: classification: %d predicted ids but %d labels", len(b.PredIDs), len(b.LabelIDs))
	}
	k := int64(c.NumClasses)
	for i, y := range b.LabelIDs {
		if y == IgnoreIndex {
			continue
		}
		p := b.PredIDs[i]
		if y < 0 || y >= k || p < 0 || p >= k {
			return fmt.Errorf("metrics: classification: position %d has label %d, prediction %d; both must be in [0, %d)", i, y, p, k)
		}
		c.cm[y*k+p]++
	}
	return nil
}

// Reset clears the counts.
func (c *Classification) Reset() { clear(c.cm) }

// ConfusionMatrix returns a copy of the counts, [true][pred], as sklearn's
// confusion_matrix with labels 0..NumClasses-1.
func (c *Classification) ConfusionMatrix() [][]int64 {
	k := c.NumClasses
	out := make([][]int64, k)
	for i := range out {
		out[i] = append([]int64(nil), c.cm[i*k:(i+1)*k]...)
	}
	return out
}

// div is sklearn's _prf_divide with zero_division="warn": 0 when the
// denominator is 0.
func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// fscore is F1 from precision and recall as sklearn 1.2 computes it.
func fscore(p, r float64) float64 { return div(2*p*r, p+r) }

// prf reduces per-class true positives, predicted counts and true counts
// over the classes in use, as sklearn's precision_recall_fscore_support.
func prf(avg Average, pos int, tp, pred, actual []float64, used []bool) (p, r, f float64) {
	switch avg {
	case Binary:
		if pos >= len(tp) {
			return 0, 0, 0
		}
		p, r = div(tp[pos], pred[pos]), div(tp[pos], actual[pos])
		return p, r, fscore(p, r)
	case Micro:
		var t, pp, tt float64
		for j := range tp {
			if used[j] {
				t, pp, tt = t+tp[j], pp+pred[j], tt+actual[j]
			}
		}
		p, r = div(t, pp), div(t, tt)
		return p, r, fscore(p, r)
	}
	var wsum float64
	for j := range tp {
		if !used[j] {
			continue
		}
		w := 1.0
		if avg == Weighted {
			w = actual[j]
		}
		pj, rj := div(tp[j], pred[j]), div(tp[j], actual[j])
		p += w * pj
		r += w * rj
		f += w * fscore(pj, rj)
		wsum += w
	}
	if wsum == 0 {
		return 0, 0, 0
	}
	return p / wsum, r / wsum, f / wsum
}

// Compute reports accuracy, precision, recall, f1 and matthews_correlation
// (all 0 before any example).
func (c *Classification) Compute() map[string]float64 {
	k := c.NumClasses
	tp := make([]float64, k)
	pred := make([]float64, k)
	tru := make([]float64, k)
	used := make([]bool, k)
	var total, correct float64
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			n := float64(c.cm[i*k+j])
			tru[i] += n
			pred[j] += n
			total += n
		}
		tp[i] = float64(c.cm[i*k+i])
		correct += tp[i]
	}
	for j := range used {
		used[j] = tru[j] > 0 || pred[j] > 0
	}
	p, r, f := prf(c.Average, c.PosLabel, tp, pred, tru, used)
	return map[string]float64{
		"accuracy":             div(correct, total),
		"precision":            p,
		"recall":               r,
		"f1":                   f,
		"matthews_correlation": mcc(correct, total, tru, pred),
	}
}

// mcc is sklearn's multi-class Matthews correlation from the confusion
// matrix's trace, total, row sums (true) and column sums (pred); 0 when
// either side is constant.
func mcc(correct, n float64, tru, pred []float64) float64 {
	var tp, pp, tt float64
	for j := range tru {
		tp += tru[j] * pred[j]
		pp += pred[j] * pred[j]
		tt += tru[j] * tru[j]
	}
	covYtYp := correct*n - tp
	covYpYp := n*n - pp
	covYtYt := n*n - tt
	if covYpYp*covYtYt == 0 {
		return 0
	}
	return covYtYp / math.Sqrt(covYtYt*covYpYp)
}
