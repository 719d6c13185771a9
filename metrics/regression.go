package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Regression reports mse, pearson and spearmanr (the GLUE STS-B keys) from
// Batch.Preds and Batch.Labels, [N].
//
// It keeps every prediction and target: Spearman ranks the whole sample
// (average ranks for ties, as scipy.stats.rankdata), so it cannot stream in
// constant memory. That is two float64 per example, O(n), never logits.
type Regression struct {
	preds, labels []float64
	sqErr         float64
}

// NewRegression returns an empty regression metric.
func NewRegression() *Regression { return &Regression{} }

// Add keeps the batch's values.
func (r *Regression) Add(b Batch) error {
	if len(b.Preds) != len(b.Labels) {
		return fmt.Errorf("metrics: regression: %d predictions but %d labels", len(b.Preds), len(b.Labels))
	}
	for i, p := range b.Preds {
		d := p - b.Labels[i]
		r.sqErr += d * d
	}
	r.preds = append(r.preds, b.Preds...)
	r.labels = append(r.labels, b.Labels...)
	return nil
}

// Reset drops the kept values.
func (r *Regression) Reset() { r.preds, r.labels, r.sqErr = r.preds[:0], r.labels[:0], 0 }

// Compute reports mse, pearson and spearmanr; the correlations are NaN for
// fewer than two examples or a constant series (scipy's answer).
func (r *Regression) Compute() map[string]float64 {
	mse := math.NaN()
	if n := len(r.preds); n > 0 {
		mse = r.sqErr / float64(n)
	}
	return map[string]float64{
		"mse":       mse,
		"pearson":   Pearson(r.preds, r.labels),
		"spearmanr": Pearson(Rank(r.preds), Rank(r.labels)),
	}
}

// Pearson is scipy.stats.pearsonr's statistic: centre, scale each series by
// its norm, take the dot product, clip to [-1, 1]. NaN for len < 2 or a
// constant series.
func Pearson(x, y []float64) float64 {
	n := len(x)
	if n < 2 || n != len(y) || constant(x) || constant(y) {
		return math.NaN()
	}
	xm, ym := centred(x), centred(y)
	nx, ny := norm(xm), norm(ym)
	var s float64
	for i := range xm {
		s += (xm[i] / nx) * (ym[i] / ny)
	}
	return max(min(s, 1), -1)
}

func constant(x []float64) bool {
	for _, v := range x {
		if v != x[0] {
			return false
		}
	}
	return true
}

func centred(x []float64) []float64 {
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v - m
	}
	return out
}

func norm(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// Rank returns 1-based ranks with ties given their average rank
// (scipy.stats.rankdata(method="average")).
func Rank(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	out := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1 // ranks i+1 .. j+1
		for _, k := range idx[i : j+1] {
			out[k] = avg
		}
		i = j + 1
	}
	return slices.Clip(out)
}
