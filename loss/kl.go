package loss

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// KLDiv returns torch.nn.functional.kl_div: the pointwise t·(log t - x),
// 0 where t = 0 (the xlogy convention), or exp(t)·(t - x) with logTarget.
// The input x is a log-probability (log_softmax of the student's logits).
// BatchMean divides by the first dim (the true KL per example); Mean divides
// by the number of elements (PyTorch's legacy meaning, kept for parity).
//
// input: (N,...) float log-probabilities. target: same shape, probabilities
// (or log-probabilities with logTarget). Result: 0-d, or input's shape for
// None. The gradient with respect to x is -t/divisor.
func KLDiv(input, target *tensor.Tensor, logTarget bool, red Reduction) (*tensor.Tensor, error) {
	const op = "kl_div"
	if err := checkFloat(op+": input", input); err != nil {
		return nil, err
	}
	t, err := floatTarget(op, input, target)
	if err != nil {
		return nil, err
	}
	if err := sameShape(op, input, t); err != nil {
		return nil, err
	}
	var l *tensor.Tensor
	if logTarget {
		l = tensor.Mul(tensor.Exp(t), tensor.Sub(t, input))
	} else {
		tv := t.Float64s()
		pos := make([]bool, len(tv))
		for i, v := range tv {
			if v < 0 || math.IsNaN(v) {
				return nil, fmt.Errorf("%s: target[%d] = %v; probabilities must be >= 0 (use log_target for log-probabilities)", op, i, v)
			}
			pos[i] = v > 0
		}
		mask := tensor.FromBool(pos, t.Shape()...)
		one := constLike(input, []float64{1})
		logt := tensor.Log(tensor.Where(mask, t, one)) // log 1 = 0 where t = 0
		l = tensor.Mul(t, tensor.Sub(logt, input))
	}
	switch red {
	case BatchMean:
		n := 1
		if input.Rank() > 0 {
			n = input.Dim(0)
		}
		return reduceWith(l, Mean, float64(n), false, nil), nil
	default:
		return reduceWith(l, red, float64(input.NumElems()), false, nil), nil
	}
}

// DistillationOptions configures Distillation.
type DistillationOptions struct {
	// Temperature T > 0 softens both distributions (typical: 2 to 4).
	Temperature float64
	// Alpha in [0,1] weighs the distillation term; 1-Alpha weighs the
	// cross-entropy with the hard labels.
	Alpha float64
	// CrossEntropy configures the hard-label term (ignore index, weights,
	// smoothing).
	CrossEntropy CrossEntropyOptions
}

// Distillation returns the knowledge-distillation loss
//
//	α·T²·KL_batchmean(softmax(t/T) ‖ log_softmax(s/T)) + (1-α)·CE(s, y)
//
// The teacher is a constant (no gradient flows into it); the T² factor keeps
// the gradient's scale independent of T (it is α·T·(p_T - q_T)/N).
//
// student, teacher: (N,C) float logits. labels: int64 (N), or nil when
// Alpha = 1. Result: 0-d.
func Distillation(student, teacher, labels *tensor.Tensor, o DistillationOptions) (*tensor.Tensor, error) {
	const op = "distillation"
	if err := checkFloat(op+": student logits", student); err != nil {
		return nil, err
	}
	if err := checkFloat(op+": teacher logits", teacher); err != nil {
		return nil, err
	}
	if !(o.Temperature > 0) || math.IsInf(o.Temperature, 0) {
		return nil, fmt.Errorf("%s: temperature = %v; it must be > 0", op, o.Temperature)
	}
	if o.Alpha < 0 || o.Alpha > 1 || math.IsNaN(o.Alpha) {
		return nil, fmt.Errorf("%s: alpha = %v; it must lie in [0, 1]", op, o.Alpha)
	}
	if student.Rank() != 2 || !equalInts(student.Shape(), teacher.Shape()) {
		return nil, fmt.Errorf("%s: student %v and teacher %v logits must both be (N,C)", op, student.Shape(), teacher.Shape())
	}
	T := o.Temperature
	s := tensor.LogSoftmax(tensor.MulScalar(student, 1/T), 1)
	q := tensor.Softmax(tensor.MulScalar(tensor.Detach(tensor.To(teacher, student.DType())), 1/T), 1)
	kd, err := KLDiv(s, q, false, BatchMean)
	if err != nil {
		return nil, err
	}
	total := tensor.MulScalar(kd, o.Alpha*T*T)
	if o.Alpha == 1 {
		return total, nil
	}
	if labels == nil {
		return nil, fmt.Errorf("%s: labels are missing; they are needed when alpha = %v < 1", op, o.Alpha)
	}
	ce, err := CrossEntropy(student, labels, o.CrossEntropy)
	if err != nil {
		return nil, err
	}
	return tensor.Add(total, tensor.MulScalar(ce, 1-o.Alpha)), nil
}
