package task

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/tensor"
)

// InferProblemType returns HF's problem type for sequence classification
// with numLabels outputs and labels of the given dtype, and the reason in
// words. The order is HF's: numLabels == 1 is checked first (so integer
// labels with one output are regression), then integer labels mean
// single-label, anything else (float, bool) multi-label.
func InferProblemType(numLabels int, labels tensor.DType) (ProblemType, string) {
	switch {
	case numLabels == 1:
		return Regression, fmt.Sprintf("1 label, %v labels", labels)
	case labels == tensor.Int64:
		return SingleLabel, fmt.Sprintf("%d labels, integer labels", numLabels)
	default:
		return MultiLabel, fmt.Sprintf("%d labels, %v labels", numLabels, labels)
	}
}

// ResolveProblemType returns the problem type the spec uses for labels of
// the given dtype: the explicit one when set (it must be valid), else the
// inferred one.
func (s Spec) ResolveProblemType(labels tensor.DType) (pt ProblemType, inferred bool, reason string, err error) {
	if s.NumLabels < 1 {
		return "", false, "", fmt.Errorf("sequence_classification: num_labels = %d; it must be >= 1", s.NumLabels)
	}
	switch s.ProblemType {
	case "":
		pt, reason = InferProblemType(s.NumLabels, labels)
		return pt, true, reason, nil
	case Regression, SingleLabel, MultiLabel:
		return s.ProblemType, false, fmt.Sprintf("%d labels, %v labels", s.NumLabels, labels), nil
	}
	return "", false, "", fmt.Errorf("problem_type %q invalid (want regression, single_label_classification or multi_label_classification)", s.ProblemType)
}

// sequenceClassification resolves the problem type and computes MSE,
// cross-entropy or BCE-with-logits (or the spec's override).
func (s Spec) sequenceClassification(in Inputs, ex *Explanation) (*tensor.Tensor, error) {
	const what = "sequence_classification"
	if err := needFloat(what+": logits", in.Logits); err != nil {
		return nil, err
	}
	if in.Labels == nil {
		return nil, fmt.Errorf("%s: labels are missing", what)
	}
	x, y := in.Logits, in.Labels
	pt, inferred, reason, err := s.ResolveProblemType(y.DType())
	if err != nil {
		return nil, err
	}
	ex.ProblemType, ex.Inferred, ex.Reason = pt, inferred, reason
	if x.Rank() != 2 || x.Dim(1) != s.NumLabels {
		return nil, fmt.Errorf("%s: logits have shape %v; want (batch, num_labels = %d)", what, x.Shape(), s.NumLabels)
	}
	B, C := x.Dim(0), x.Dim(1)
	switch pt {
	case SingleLabel:
		if !y.DType().IsFloat() && y.DType() != tensor.Int64 {
			return nil, fmt.Errorf("%s: labels have dtype %v; single-label classification needs int64 class ids", what, y.DType())
		}
		if y.DType().IsFloat() {
			return nil, fmt.Errorf("%s: labels have dtype %v; single-label classification needs int64 class ids (float labels mean multi-label or regression: set problem_type)", what, y.DType())
		}
		switch {
		case equalInts(y.Shape(), []int{B}):
		case equalInts(y.Shape(), []int{B, 1}):
			y = tensor.Reshape(y, B)
		case equalInts(y.Shape(), []int{B, C}):
			return nil, fmt.Errorf("%s: labels have shape %v (one column per class) but are integers: for multi-label classification use float labels or set problem_type multi_label_classification", what, y.Shape())
		default:
			return nil, fmt.Errorf("%s: labels have shape %v; want (%d): one class id per example", what, y.Shape(), B)
		}
		if err := checkLabels(what+": labels", y, C); err != nil {
			return nil, err
		}
		return s.classLoss(x, y, in.NumItemsInBatch, s.LabelSmoothing, ex)
	case Regression:
		return s.regression(x, y, in.NumItemsInBatch, ex)
	default:
		return s.multiLabel(x, y, in.NumItemsInBatch, ex)
	}
}

// regression computes MSE (or the override) without any broadcasting.
func (s Spec) regression(x, y *tensor.Tensor, numItems int64, ex *Explanation) (*tensor.Tensor, error) {
	const what = "sequence_classification"
	B := x.Dim(0)
	if !y.DType().IsFloat() {
		ex.Notes = append(ex.Notes, fmt.Sprintf("%v labels converted to %v for regression (HF fails in backward here)", y.DType(), x.DType()))
		if s.ProblemType == "" && y.DType() == tensor.Int64 {
			ex.Warnings = append(ex.Warnings, "integer labels with num_labels = 1 mean regression; for classification set num_labels to the number of classes")
		}
	}
	y = tensor.To(y, x.DType())
	if s.NumLabels == 1 {
		// HF squeezes both sides; kiln accepts exactly (B) or (B,1) labels.
		if !equalInts(y.Shape(), []int{B}) && !equalInts(y.Shape(), []int{B, 1}) {
			return nil, fmt.Errorf("%s: regression labels have shape %v; want (%d) or (%d, 1) for logits %v", what, y.Shape(), B, B, x.Shape())
		}
		x, y = tensor.Reshape(x, B), tensor.Reshape(y, B)
	} else if !equalInts(y.Shape(), x.Shape()) {
		return nil, fmt.Errorf("%s: regression labels have shape %v; want %v, one target per output (kiln does not broadcast)", what, y.Shape(), x.Shape())
	}
	if s.LabelSmoothing > 0 {
		ex.Notes = append(ex.Notes, "label smoothing is off for regression (it has no classes)")
	}
	red := loss.Mean
	if numItems > 0 {
		red = loss.Sum
	}
	name := s.Loss
	if name == "" {
		name = "mse"
	}
	fn, err := loss.Lookup(name)
	if err != nil {
		return nil, err
	}
	cfg := s.LossConfig
	cfg.Reduction = red
	l, err := fn(x, y, cfg)
	if err != nil {
		return nil, err
	}
	ex.Loss = name
	ex.Items = int64(y.NumElems())
	return normalise(l, numItems, ex, fmt.Sprintf("mean over %d values", y.NumElems())), nil
}

// multiLabel computes BCE-with-logits (or the override) over (B,C) targets.
func (s Spec) multiLabel(x, y *tensor.Tensor, numItems int64, ex *Explanation) (*tensor.Tensor, error) {
	const what = "sequence_classification"
	if ex.Inferred && y.DType().IsFloat() {
		ex.Notes = append(ex.Notes, "float labels made this task multi-label (HF does the same); set problem_type regression for multi-target regression")
	}
	if !y.DType().IsFloat() {
		ex.Notes = append(ex.Notes, fmt.Sprintf("%v multi-hot labels converted to %v", y.DType(), x.DType()))
	}
	if !equalInts(y.Shape(), x.Shape()) {
		return nil, fmt.Errorf("%s: multi-label labels have shape %v; want %v (one 0/1 target per label)", what, y.Shape(), x.Shape())
	}
	yv := y.Float64s()
	for i, v := range yv {
		if !(v >= 0 && v <= 1) || math.IsNaN(v) {
			return nil, fmt.Errorf("%s: multi-label target %v at %s is outside [0, 1]", what, v, loss.Position(y.Shape(), i))
		}
	}
	y = tensor.To(y, x.DType())
	if s.LabelSmoothing > 0 {
		ex.Warnings = append(ex.Warnings, "label smoothing is disabled for multi-label classification (as HF)")
	}
	red := loss.Mean
	if numItems > 0 {
		red = loss.Sum
	}
	name := s.Loss
	if name == "" {
		name = "bce_with_logits"
	}
	fn, err := loss.Lookup(name)
	if err != nil {
		return nil, err
	}
	cfg := s.LossConfig
	cfg.Reduction = red
	l, err := fn(x, y, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.PosWeight != nil {
		ex.Notes = append(ex.Notes, fmt.Sprintf("pos_weight %v", cfg.PosWeight))
	}
	ex.Loss = name
	ex.Items = int64(y.NumElems())
	return normalise(l, numItems, ex, fmt.Sprintf("mean over %d label values", y.NumElems())), nil
}

// normalise divides a Sum-reduced loss by numItems (when > 0) and records
// the divisor.
func normalise(l *tensor.Tensor, numItems int64, ex *Explanation, mean string) *tensor.Tensor {
	if numItems > 0 {
		ex.Divisor = fmt.Sprintf("sum over %d values / num_items_in_batch %d", ex.Items, numItems)
		return tensor.MulScalar(l, 1/float64(numItems))
	}
	ex.Divisor = mean
	return l
}

// Head is a Spec that remembers the problem type of its first batch, as HF
// writes the inferred problem_type into the model config so that it sticks.
// A later batch whose labels would infer differently is an error, not a
// silent switch. Head is not safe for concurrent use.
type Head struct {
	Spec Spec
	// pinned is the problem type resolved on the first batch.
	pinned ProblemType
}

// Loss computes the loss of one micro-batch (see Compute).
func (h *Head) Loss(in Inputs) (Result, error) {
	s := h.Spec
	if s.Kind == SequenceClassification && s.ProblemType == "" && in.Labels != nil && s.NumLabels >= 1 {
		pt, _ := InferProblemType(s.NumLabels, in.Labels.DType())
		if h.pinned != "" && pt != h.pinned {
			return Result{}, fmt.Errorf("sequence_classification: labels of dtype %v would make this batch %s, but the first batch fixed the problem type to %s; set problem_type explicitly", in.Labels.DType(), pt, h.pinned)
		}
	}
	res, err := Compute(s, in)
	if err == nil && res.Explanation.ProblemType != "" && h.pinned == "" {
		h.pinned = res.Explanation.ProblemType
	}
	return res, err
}

// ProblemType returns the pinned problem type ("" before the first batch).
func (h *Head) ProblemType() ProblemType { return h.pinned }
