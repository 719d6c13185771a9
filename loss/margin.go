package loss

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// MultiMargin returns the multi-class hinge loss, as
// torch.nn.functional.multi_margin_loss:
//
//	l_i = (1/C)·Σ_{j≠y_i} w_{y_i}·max(0, margin - x_{i,y_i} + x_{i,j})^p
//
// A hinge exactly at 0 contributes 0 loss and 0 gradient. Mean divides by N
// (not by the weight sum).
//
// input: (N,C), float. target: int64 (N), each in [0,C) (no ignore index).
// p: 1 or 2. weight: one per class or nil. Result: 0-d, or (N) for None.
func MultiMargin(input, target *tensor.Tensor, p int, margin float64, weight []float64, red Reduction) (*tensor.Tensor, error) {
	const op = "multi_margin_loss"
	if err := checkFloat(op+": input", input); err != nil {
		return nil, err
	}
	if input.Rank() != 2 {
		return nil, fmt.Errorf("%s: input has shape %v; want (N,C)", op, input.Shape())
	}
	if p != 1 && p != 2 {
		return nil, fmt.Errorf("%s: p = %d; only 1 and 2 are supported", op, p)
	}
	if math.IsNaN(margin) || math.IsInf(margin, 0) {
		return nil, fmt.Errorf("%s: margin = %v; it must be finite", op, margin)
	}
	if red == BatchMean {
		return nil, fmt.Errorf("%s: reduction batchmean is only for kl_div", op)
	}
	N, C := input.Dim(0), input.Dim(1)
	if target == nil || target.DType() != tensor.Int64 {
		return nil, fmt.Errorf("%s: target must be int64 class ids of shape (%d)", op, N)
	}
	if !equalInts(target.Shape(), []int{N}) {
		return nil, fmt.Errorf("%s: target shape %v does not match input %v: want (%d)", op, target.Shape(), input.Shape(), N)
	}
	if err := checkWeights(op, "weight", weight, C); err != nil {
		return nil, err
	}
	ids := target.Int64s()
	if err := checkClassIDs(op, ids, target.Shape(), C, 0, false); err != nil {
		return nil, err
	}
	notY := make([]bool, N*C)
	wy := make([]float64, N)
	for i, y := range ids {
		for j := 0; j < C; j++ {
			notY[i*C+j] = int64(j) != y
		}
		wy[i] = 1
		if weight != nil {
			wy[i] = weight[y]
		}
	}
	xy := tensor.Gather(input, 1, tensor.FromInt64(ids, N, 1))        // (N,1)
	h := tensor.ReLU(tensor.AddScalar(tensor.Sub(input, xy), margin)) // (N,C); ReLU'(0) = 0
	if p == 2 {
		h = tensor.Mul(h, h)
	}
	h = tensor.Where(tensor.FromBool(notY, N, C), h, constLike(input, []float64{0}))
	l := tensor.Mul(tensor.SumAxes(h, false, 1), constLike(input, wy, N)) // (N)
	l = tensor.MulScalar(l, 1/float64(C))
	return reduceWith(l, red, float64(N), false, nil), nil
}

// HingeEmbeddingLoss returns torch.nn.functional.hinge_embedding_loss: x
// where y = 1, max(0, margin - x) where y = -1 (other target values get
// both terms, as PyTorch). The clamp passes the gradient at 0, as PyTorch.
// Mean divides by the number of elements.
//
// input: any shape, float (usually distances). target: same shape, values
// ±1 (float or int64). Result: 0-d, or input's shape for None.
func HingeEmbedding(input, target *tensor.Tensor, margin float64, red Reduction) (*tensor.Tensor, error) {
	const op = "hinge_embedding_loss"
	if err := checkFloat(op+": input", input); err != nil {
		return nil, err
	}
	if target == nil {
		return nil, fmt.Errorf("%s: target is missing (nil tensor)", op)
	}
	if err := sameShape(op, input, target); err != nil {
		return nil, err
	}
	if red == BatchMean {
		return nil, fmt.Errorf("%s: reduction batchmean is only for kl_div", op)
	}
	tv := target.Float64s()
	notPos := make([]bool, len(tv)) // y != 1: the margin term applies
	notNeg := make([]bool, len(tv)) // y != -1: the x term applies
	for i, v := range tv {
		notPos[i] = v != 1
		notNeg[i] = v != -1
	}
	shape := input.Shape()
	zero := constLike(input, []float64{0})
	m := tensor.Clamp(tensor.AddScalar(tensor.Neg(input), margin), 0, math.Inf(1))
	l := tensor.Add(tensor.Where(tensor.FromBool(notPos, shape...), m, zero),
		tensor.Where(tensor.FromBool(notNeg, shape...), input, zero))
	return reduceWith(l, red, float64(input.NumElems()), false, nil), nil
}
