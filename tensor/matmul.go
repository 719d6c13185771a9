package tensor

import (
	"fmt"

	"github.com/kiln-ml/kiln/internal/kernels"
	"github.com/kiln-ml/kiln/internal/parallel"
)

// MatMul returns a @ b for a [..., m, k] and b [..., k, n]. Leading (batch)
// dims must match, or one operand may be a plain matrix shared by every
// batch entry (a linear layer's weight, say).
func MatMul(a, b *Tensor) *Tensor { return MatMulT(a, b, false, false) }

// MatMulT returns op(a) @ op(b), where op transposes the last two dims when
// the flag is set, without copying: MatMulT(x, w, false, true) is x @ wᵀ for a
// weight stored [out, in] as in PyTorch's Linear, and MatMulT(q, k, false,
// true) is the attention score q @ kᵀ.
func MatMulT(a, b *Tensor, transA, transB bool) *Tensor {
	mustFloat("MatMul", a, b)
	if a.Rank() < 2 || b.Rank() < 2 {
		panic(fmt.Sprintf("tensor.MatMul: operands need rank >= 2, got shapes %v and %v", a.shape, b.shape))
	}
	m, k := a.shape[a.Rank()-2], a.shape[a.Rank()-1]
	if transA {
		m, k = k, m
	}
	kb, n := b.shape[b.Rank()-2], b.shape[b.Rank()-1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		panic(fmt.Sprintf("tensor.MatMul: inner dims differ: op(a) is %dx%d (shape %v, transA=%t), op(b) is %dx%d (shape %v, transB=%t)",
			m, k, a.shape, transA, kb, n, b.shape, transB))
	}
	batchA, batchB := a.shape[:a.Rank()-2], b.shape[:b.Rank()-2]
	var batch []int
	switch {
	case sameShape(batchA, batchB):
		batch = batchA
	case len(batchB) == 0:
		batch = batchA
	case len(batchA) == 0:
		batch = batchB
	default:
		panic(fmt.Sprintf("tensor.MatMul: batch dims differ: shapes %v and %v", a.shape, b.shape))
	}
	nb := shapeSize(batch)
	shape := append(append([]int(nil), batch...), m, n)
	out := empty(a.dtype, shape...)

	strideA, strideB := m*k, k*n
	if len(batchA) == 0 {
		strideA = 0
	}
	if len(batchB) == 0 {
		strideB = 0
	}
	lda, ldb := a.shape[a.Rank()-1], b.shape[b.Rank()-1]
	switch a.dtype {
	case Float32:
		af, bf, cf := floats[float32](a), floats[float32](b), floats[float32](out)
		if strideB == 0 && !transA && nb > 1 {
			// A batch of rows against one matrix is one big GEMM.
			kernels.Sgemm(false, transB, nb*m, n, k, 1, af, lda, bf, ldb, 0, cf, n)
		} else {
			kernels.SgemmBatched(nb, transA, transB, m, n, k, 1, af, lda, strideA, bf, ldb, strideB, 0, cf, n, m*n)
		}
	default:
		af, bf, cf := floats[float64](a), floats[float64](b), floats[float64](out)
		parallel.For(nb, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				gemm64(transA, transB, m, n, k, af[i*strideA:], lda, bf[i*strideB:], ldb, cf[i*m*n:], n)
			}
		})
	}

	record(out, "MatMul", func(g *Tensor) []*Tensor {
		var ga, gb *Tensor
		if a.requiresGrad {
			if !transA {
				ga = MatMulT(g, b, false, !transB) // g @ op(b)ᵀ
			} else {
				ga = MatMulT(b, g, transB, true) // (g @ op(b)ᵀ)ᵀ = op(b) @ gᵀ
			}
			ga = sumTo(ga, a.shape)
		}
		if b.requiresGrad {
			if !transB {
				gb = matMulSummed(a, g, !transA, false, b.shape) // op(a)ᵀ @ g
			} else {
				gb = matMulSummed(g, a, true, transA, b.shape) // (op(a)ᵀ @ g)ᵀ = gᵀ @ op(a)
			}
		}
		return []*Tensor{ga, gb}
	}, a, b)
	return out
}

// matMulSummed returns op(x) @ op(y) summed down to shape: when b was a plain
// matrix broadcast over a batch, its gradient is the sum over the batch, which
// one GEMM over the flattened batch computes directly when x's rows can be
// stacked (x transposed and batched: the batch becomes part of K).
func matMulSummed(x, y *Tensor, transX, transY bool, shape []int) *Tensor {
	if len(shape) == 2 && x.Rank() > 2 && transX && !transY && y.Rank() > 2 {
		// (Σ_b X_bᵀ Y_b) = X_flatᵀ Y_flat with X_flat = [B*k, m], Y_flat = [B*k, n].
		xf := alias(x, []int{x.NumElems() / x.shape[x.Rank()-1], x.shape[x.Rank()-1]})
		yf := alias(y, []int{y.NumElems() / y.shape[y.Rank()-1], y.shape[y.Rank()-1]})
		return MatMulT(xf, yf, true, false)
	}
	return sumTo(MatMulT(x, y, transX, transY), shape)
}

// gemm64 is the float64 matmul for gradient checks and references:
// C = op(A) op(B).
func gemm64(transA, transB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	kernels.GemmRef(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
}
