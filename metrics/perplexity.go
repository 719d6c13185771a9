package metrics

import (
	"fmt"
	"math"
)

// Perplexity reports perplexity = exp(mean token loss), the run_clm and
// run_mlm definition, from Batch.LossSum (summed, not averaged, token loss)
// and Batch.Count (tokens in that sum). Summing first makes the result
// independent of how the evaluation set is batched.
type Perplexity struct {
	sum   float64
	count int64
}

// NewPerplexity returns an empty perplexity metric.
func NewPerplexity() *Perplexity { return &Perplexity{} }

// Add folds in a batch's summed loss and token count.
func (p *Perplexity) Add(b Batch) error {
	if b.Count < 0 {
		return fmt.Errorf("metrics: perplexity: Count = %d; it must be >= 0", b.Count)
	}
	p.sum += b.LossSum
	p.count += b.Count
	return nil
}

// Reset clears the sums.
func (p *Perplexity) Reset() { p.sum, p.count = 0, 0 }

// Compute reports perplexity (NaN before any token; +Inf when the mean loss
// overflows exp, as math.exp raises OverflowError in run_clm and it reports inf).
func (p *Perplexity) Compute() map[string]float64 {
	if p.count == 0 {
		return map[string]float64{"perplexity": math.NaN()}
	}
	return map[string]float64{"perplexity": math.Exp(p.sum / float64(p.count))}
}
