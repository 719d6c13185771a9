package tensor

import (
	"fmt"

	"github.com/kiln-ml/kiln/internal/kernels"
	"github.com/kiln-ml/kiln/internal/parallel"
)

// Fused ops for the layers every transformer repeats. Each does in one pass
// what would otherwise be two or three ops and as many trips through memory,
// which on this hardware (about 20 GB/s per core) is what decides the speed of
// small models.

// Linear returns x @ wᵀ + b, PyTorch's linear layer: x is [..., in], w is
// [out, in] (PyTorch's and HF's storage), b is [out] or nil; the result is
// [..., out]. The bias is written into the output first and the GEMM
// accumulates onto it, so the bias costs no extra pass.
func Linear(x, w, b *Tensor) *Tensor {
	mustFloat("Linear", x, w)
	if b != nil {
		mustFloat("Linear", x, b)
	}
	in := x.shape[x.Rank()-1]
	if w.Rank() != 2 || w.shape[1] != in || (b != nil && (b.Rank() != 1 || b.shape[0] != w.shape[0])) {
		bs := "nil"
		if b != nil {
			bs = fmt.Sprint(b.shape)
		}
		panic(fmt.Sprintf("tensor.Linear: x %v, weight %v, bias %s do not fit (want weight [out %d] and bias [out])", x.shape, w.shape, bs, in))
	}
	out := w.shape[0]
	rows := x.NumElems() / in
	shape := append(append([]int(nil), x.shape[:x.Rank()-1]...), out)
	y := empty(x.dtype, shape...)
	switch x.dtype {
	case Float32:
		yd := floats[float32](y)
		beta := float32(0)
		if b != nil {
			fillRows(yd, floats[float32](b), rows)
			beta = 1
		}
		kernels.Sgemm(false, true, rows, out, in, 1, floats[float32](x), in, floats[float32](w), in, beta, yd, out)
	default:
		yd := floats[float64](y)
		gemm64(false, true, rows, out, in, floats[float64](x), in, floats[float64](w), in, yd, out)
		if b != nil {
			bd := floats[float64](b)
			for r := 0; r < rows; r++ {
				row := yd[r*out : (r+1)*out]
				for j := range row {
					row[j] += bd[j]
				}
			}
		}
	}
	record(y, "Linear", func(g *Tensor) []*Tensor {
		var gx, gw, gb *Tensor
		g2 := alias(g, []int{rows, out})
		if x.requiresGrad {
			gx = view(MatMul(g2, w), x.shape) // [rows, out] @ [out, in]
		}
		if w.requiresGrad {
			gw = MatMulT(g2, alias(x, []int{rows, in}), true, false) // gᵀ x: [out, in]
		}
		if b != nil && b.requiresGrad {
			gb = sumTo(g2, b.shape)
		}
		return []*Tensor{gx, gw, gb}
	}, x, w, b)
	return y
}

// view returns a view of t with the given shape (same number of elements),
// without recording; it serves backward functions.
func view(t *Tensor, shape []int) *Tensor {
	if shapeSize(shape) != t.NumElems() {
		panic(fmt.Sprintf("tensor.reshape: cannot view %v as %v", t.shape, shape))
	}
	return alias(t, shape)
}

// fillRows copies row into each of the rows of dst.
func fillRows[T Float](dst, row []T, rows int) {
	n := len(row)
	parallel.For(rows, max(1, (1<<15)/max(n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(dst[r*n:(r+1)*n], row)
		}
	})
}

// BiasGELU returns gelu(x + b), the activation of a transformer's feed-forward
// layer, in one pass: x is [..., n], b is [n]. tanhApprox selects HF's
// "gelu_new" (GPT-2) instead of the exact erf form (BERT's "gelu"). Backward
// recomputes x + b rather than saving it.
func BiasGELU(x, b *Tensor, tanhApprox bool) *Tensor {
	mustFloat("BiasGELU", x, b)
	n := x.shape[x.Rank()-1]
	if b.Rank() != 1 || b.shape[0] != n {
		panic(fmt.Sprintf("tensor.BiasGELU: bias %v does not match x %v", b.shape, x.shape))
	}
	y := empty(x.dtype, x.shape...)
	switch x.dtype {
	case Float32:
		biasGELU(floats[float32](y), floats[float32](x), floats[float32](b), nil, tanhApprox)
	default:
		biasGELU(floats[float64](y), floats[float64](x), floats[float64](b), nil, tanhApprox)
	}
	record(y, "BiasGELU", func(g *Tensor) []*Tensor {
		gx := empty(x.dtype, x.shape...)
		switch x.dtype {
		case Float32:
			biasGELU(floats[float32](gx), floats[float32](x), floats[float32](b), floats[float32](g), tanhApprox)
		default:
			biasGELU(floats[float64](gx), floats[float64](x), floats[float64](b), floats[float64](g), tanhApprox)
		}
		var gb *Tensor
		if b.requiresGrad {
			gb = sumTo(gx, b.shape)
		}
		return []*Tensor{gx, gb}
	}, x, b)
	return y
}

// biasGELU sets dst = gelu(x + b) when g is nil, else dst = g * gelu'(x + b).
func biasGELU[T Float](dst, x, b, g []T, tanhApprox bool) {
	n := len(b)
	rows := len(x) / max(n, 1)
	parallel.For(rows, max(1, (1<<14)/max(n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, dr := x[r*n:(r+1)*n], dst[r*n:(r+1)*n]
			if isF32[T]() {
				var gr []float32
				if g != nil {
					gr = f32s(g[r*n : (r+1)*n])
				}
				geluRow32(f32s(dr), f32s(xr), f32s(b), gr, tanhApprox)
				continue
			}
			for j, xv := range xr {
				u := float64(xv + b[j])
				if g == nil {
					dr[j] = T(geluT[T](u, tanhApprox))
				} else {
					dr[j] = T(float64(g[r*n+j]) * geluGradT[T](u, tanhApprox))
				}
			}
		}
	})
}

// geluT is x Φ(x) (erf form) or HF's tanh approximation, with the float32
// fast paths of fastmath.go when T is float32.
func geluT[T Float](x float64, tanhApprox bool) float64 {
	if tanhApprox {
		// 0.5·(1+tanh(u)) = sigmoid(2u): accurate in both tails.
		return x * sigmoidT[T](2*sqrt2Pi*(x+geluCoef*x*x*x))
	}
	cdf, _ := normCDFPDF[T](x)
	return x * cdf
}

// geluGradT is the derivative of geluT.
func geluGradT[T Float](x float64, tanhApprox bool) float64 {
	if tanhApprox {
		// y = x·s with s = sigmoid(2u) = (1+tanh u)/2, so y' = s + 2x·s(1-s)·u'.
		x2 := x * x
		s := sigmoidT[T](2 * sqrt2Pi * (x + geluCoef*x2*x))
		return s + 2*x*s*(1-s)*sqrt2Pi*(1+3*geluCoef*x2)
	}
	cdf, pdf := normCDFPDF[T](x)
	return cdf + x*pdf
}
