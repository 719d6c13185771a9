package task

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
)

// CountItems returns the number of labels in one micro-batch that the
// head's loss sums over: the non-ignored labels (for causal LMs after the
// shift, labels[..., 1:], or the given shift labels), all values for
// regression and multi-label classification, and the answered start
// positions (< seq_len) for question answering. The sum of CountItems over
// an accumulation group (and over ranks) is Inputs.NumItemsInBatch.
//
// Unlike HF 4.46-4.5x, the causal-LM count is taken after the shift, so it
// counts exactly the terms the loss sums.
func CountItems(spec Spec, in Inputs) (int64, error) {
	switch spec.Kind {
	case CausalLM:
		if in.ShiftLabels != nil {
			return countNotIgnored(in.ShiftLabels.Int64s()), nil
		}
		if err := needInt64("causal_lm: labels", in.Labels); err != nil {
			return 0, err
		}
		if in.Labels.Rank() < 1 {
			return 0, fmt.Errorf("causal_lm: labels are a scalar; want (batch, seq_len)")
		}
		return countNotIgnored(shiftLeft(in.Labels).Int64s()), nil
	case MaskedLM, TokenClassification, MultipleChoice:
		if err := needInt64(string(spec.Kind)+": labels", in.Labels); err != nil {
			return 0, err
		}
		return countNotIgnored(in.Labels.Int64s()), nil
	case SequenceClassification:
		if in.Labels == nil {
			return 0, fmt.Errorf("sequence_classification: labels are missing")
		}
		pt, _, _, err := spec.ResolveProblemType(in.Labels.DType())
		if err != nil {
			return 0, err
		}
		if pt == SingleLabel {
			return countNotIgnored(in.Labels.Int64s()), nil
		}
		return int64(in.Labels.NumElems()), nil
	case QuestionAnswering:
		if in.StartLogits == nil || in.StartLogits.Rank() != 2 {
			return 0, fmt.Errorf("question_answering: start logits (batch, seq_len) are needed to count answers")
		}
		if err := needInt64("question_answering: start_positions", in.StartPositions); err != nil {
			return 0, err
		}
		T := int64(in.StartLogits.Dim(1))
		var n int64
		for _, p := range in.StartPositions.Int64s() {
			if p < T {
				n++
			}
		}
		return n, nil
	}
	return 0, fmt.Errorf("task %q unknown", spec.Kind)
}

// CountGroup sums CountItems over the micro-batches of one accumulation
// group: the NumItemsInBatch to pass with each of them. Across ranks, sum
// the per-rank results (one integer all-reduce).
func CountGroup(spec Spec, micro []Inputs) (int64, error) {
	var n int64
	for i, in := range micro {
		c, err := CountItems(spec, in)
		if err != nil {
			return 0, fmt.Errorf("micro-batch %d: %w", i, err)
		}
		n += c
	}
	return n, nil
}

// LabelSmoother is HF's trainer-level label smoothing
// (trainer_pt_utils.LabelSmoother): with m_i = [label_i != -100],
// nll_i = -log p_{i,y_i}, s_i = Σ_c -log p_{i,c} and D = Σ m_i (or
// numItems when > 0),
//
//	loss = (1-ε)·Σ m_i·nll_i / D + ε·Σ m_i·s_i / (D·C)
//
// which equals cross-entropy with label smoothing ε (no class weights).
type LabelSmoother struct {
	Epsilon float64
}

// Loss returns the smoothed loss of logits (...,C) against labels (...).
// With shift, logits[..., :-1, :] are scored against labels[..., 1:] (causal
// LMs). A batch with no non-ignored label gives 0 (HF: NaN).
func (ls LabelSmoother) Loss(logits, labels *tensor.Tensor, shift bool, numItems int64) (*tensor.Tensor, error) {
	const what = "label_smoother"
	if ls.Epsilon < 0 || ls.Epsilon > 1 {
		return nil, fmt.Errorf("%s: epsilon = %v; it must lie in [0, 1]", what, ls.Epsilon)
	}
	if err := needFloat(what+": logits", logits); err != nil {
		return nil, err
	}
	if err := needInt64(what+": labels", labels); err != nil {
		return nil, err
	}
	ls1 := logits.Shape()
	if logits.Rank() < 2 || !equalInts(labels.Shape(), ls1[:len(ls1)-1]) {
		return nil, fmt.Errorf("%s: labels %v must match logits %v without the class dim", what, labels.Shape(), logits.Shape())
	}
	C := logits.Dim(-1)
	if err := checkLabels(what+": labels", labels, C); err != nil {
		return nil, err
	}
	x, y := logits, labels
	if shift {
		if x.Rank() < 3 {
			return nil, fmt.Errorf("%s: shifting needs (batch, seq_len, vocab) logits, got %v", what, x.Shape())
		}
		T := x.Dim(-2)
		x = tensor.Slice(x, -2, 0, T-1)
		y = tensor.Slice(y, -1, 1, T)
	}
	M := y.NumElems()
	x = tensor.Reshape(x, M, C)
	ids := y.Int64s()
	idx := make([]int64, M)
	keep := make([]bool, M)
	var d int64
	for i, v := range ids {
		if v != IgnoreIndex {
			idx[i], keep[i] = v, true
			d++
		}
	}
	if numItems > 0 {
		d = numItems
	}
	logp := tensor.LogSoftmax(x, 1)
	nll := tensor.Neg(tensor.Reshape(tensor.Gather(logp, 1, tensor.FromInt64(idx, M, 1)), M))
	smooth := tensor.Neg(tensor.SumAxes(logp, false, 1))
	mask := tensor.FromBool(keep, M)
	zero := tensor.Zeros(x.DType())
	nll = tensor.Sum(tensor.Where(mask, nll, zero))
	smooth = tensor.Sum(tensor.Where(mask, smooth, zero))
	if d == 0 {
		return tensor.MulScalar(tensor.Add(nll, smooth), 0), nil
	}
	eps := ls.Epsilon
	return tensor.Add(tensor.MulScalar(nll, (1-eps)/float64(d)), tensor.MulScalar(smooth, eps/(float64(d)*float64(C)))), nil
}
