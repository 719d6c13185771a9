package tensor

import (
	"fmt"
	"github.com/kiln-ml/kiln/internal/kernels"
	"math"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Element-wise unary ops. Each forward is one pass over x; each backward is
// one pass over g and the saved x and/or output (both stay referenced by the
// graph node anyway, so saving them costs no memory). Float32 kernels compute
// in float64, with the fast exp and normal CDF of fastmath.go where they
// matter (exp, sigmoid, GELU, softplus); float64 kernels use the math package.

type unaryOp uint8

const (
	opNeg unaryOp = iota
	opExp
	opLog
	opTanh
	opSqrt
	opRsqrt
	opSigmoid
	opAbs
	opPow
	opClamp
	opReLU
	opGELU
	opGELUTanh
	opSoftplus
)

var unaryNames = [...]string{"Neg", "Exp", "Log", "Tanh", "Sqrt", "Rsqrt", "Sigmoid", "Abs", "Pow", "Clamp",
	"ReLU", "GELU", "GELUTanh", "Softplus"}

// unaryGrain is the chunk size of the element-wise loops: large enough that a
// chunk amortises the pool's dispatch, small enough to split [2048, 768].
const unaryGrain = 1 << 14

const (
	sqrt2Pi      = 0.7978845608028654 // √(2/π), GELU's tanh form
	geluCoef     = 0.044715
	invSqrt2     = 0.7071067811865476 // 1/√2
	invSqrt2Pi   = 0.3989422804014327 // 1/√(2π), the normal density at 0
	softplusThre = 20                 // PyTorch's default Softplus threshold
)

// Neg returns -x. x: any shape -> same shape.
func Neg(x *Tensor) *Tensor { return unary(opNeg, x, 0, 0) }

// Exp returns eˣ element-wise. x: any shape -> same shape.
func Exp(x *Tensor) *Tensor { return unary(opExp, x, 0, 0) }

// Log returns the natural logarithm element-wise (NaN below 0, -Inf at 0).
// x: any shape -> same shape.
func Log(x *Tensor) *Tensor { return unary(opLog, x, 0, 0) }

// Tanh returns tanh(x) element-wise. x: any shape -> same shape.
func Tanh(x *Tensor) *Tensor { return unary(opTanh, x, 0, 0) }

// Sqrt returns √x element-wise. x: any shape -> same shape.
func Sqrt(x *Tensor) *Tensor { return unary(opSqrt, x, 0, 0) }

// Rsqrt returns 1/√x element-wise. x: any shape -> same shape.
func Rsqrt(x *Tensor) *Tensor { return unary(opRsqrt, x, 0, 0) }

// Sigmoid returns 1/(1+e⁻ˣ) element-wise. x: any shape -> same shape.
func Sigmoid(x *Tensor) *Tensor { return unary(opSigmoid, x, 0, 0) }

// Abs returns |x| element-wise; its gradient at 0 is 0, as in PyTorch.
// x: any shape -> same shape.
func Abs(x *Tensor) *Tensor { return unary(opAbs, x, 0, 0) }

// Pow returns xᵖ element-wise for a scalar exponent p. The gradient is
// p·xᵖ⁻¹, and exactly 0 when p == 0, as in PyTorch. x: any shape -> same shape.
func Pow(x *Tensor, p float64) *Tensor { return unary(opPow, x, p, 0) }

// Clamp returns min(max(x, lo), hi) element-wise; pass math.Inf(-1) or
// math.Inf(1) for a one-sided clamp. NaN stays NaN, and lo > hi gives hi
// everywhere, as torch.clamp. The gradient passes where lo <= x <= hi (the
// bounds included, as PyTorch 1.13) and is 0 elsewhere.
// x: any shape -> same shape.
func Clamp(x *Tensor, lo, hi float64) *Tensor {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		panic(fmt.Sprintf("tensor.Clamp: NaN bound (lo %v, hi %v)", lo, hi))
	}
	return unary(opClamp, x, lo, hi)
}

// ReLU returns max(x, 0) element-wise; its gradient at 0 is 0, as in
// PyTorch. x: any shape -> same shape.
func ReLU(x *Tensor) *Tensor { return unary(opReLU, x, 0, 0) }

// GELU returns the exact (erf) Gaussian error linear unit 0.5·x·(1+erf(x/√2))
// = x·Φ(x), BERT's activation and PyTorch's default. Φ is computed with erfc
// (float64) or a Mills-ratio table (float32), both accurate in relative terms
// in the far negative tail, where 1+erf would cancel.
// x: any shape -> same shape.
func GELU(x *Tensor) *Tensor { return unary(opGELU, x, 0, 0) }

// GELUTanh returns the tanh approximation of GELU,
// 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))): GPT-2's activation, Hugging Face's
// "gelu_new" and PyTorch's gelu(approximate="tanh"). x: any shape -> same shape.
func GELUTanh(x *Tensor) *Tensor { return unary(opGELUTanh, x, 0, 0) }

// Softplus returns log(1+eˣ) element-wise, and x itself where x > 20
// (PyTorch's default beta 1 and threshold 20). x: any shape -> same shape.
func Softplus(x *Tensor) *Tensor { return unary(opSoftplus, x, 0, 0) }

// unary runs op forward and records its backward.
func unary(op unaryOp, x *Tensor, p, q float64) *Tensor {
	name := unaryNames[op]
	mustFloat(name, x)
	out := empty(x.dtype, x.shape...)
	switch x.dtype {
	case Float32:
		unaryFwd(op, floats[float32](out), floats[float32](x), p, q)
	default:
		unaryFwd(op, floats[float64](out), floats[float64](x), p, q)
	}
	record(out, name, func(g *Tensor) []*Tensor {
		dx := empty(g.dtype, g.shape...)
		switch g.dtype {
		case Float32:
			unaryBwd(op, floats[float32](dx), floats[float32](g), floats[float32](x), floats[float32](out), p, q)
		default:
			unaryBwd(op, floats[float64](dx), floats[float64](g), floats[float64](x), floats[float64](out), p, q)
		}
		return []*Tensor{dx}
	}, x)
	return out
}

// unaryFwd sets dst = op(src); p and q are Pow's exponent or Clamp's bounds.
func unaryFwd[T Float](op unaryOp, dst, src []T, p, q float64) {
	parallel.For(len(dst), unaryGrain, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		switch op {
		case opNeg:
			for i, v := range s {
				d[i] = -v
			}
		case opExp:
			if isF32[T]() {
				kernels.ExpF32(f32s(d), f32s(s))
				return
			}
			for i, v := range s {
				d[i] = T(expT[T](float64(v)))
			}
		case opLog:
			for i, v := range s {
				d[i] = T(math.Log(float64(v)))
			}
		case opTanh:
			for i, v := range s {
				d[i] = T(math.Tanh(float64(v)))
			}
		case opSqrt:
			for i, v := range s {
				d[i] = T(math.Sqrt(float64(v)))
			}
		case opRsqrt:
			for i, v := range s {
				d[i] = T(1 / math.Sqrt(float64(v)))
			}
		case opSigmoid:
			for i, v := range s {
				d[i] = T(sigmoidT[T](float64(v)))
			}
		case opAbs:
			for i, v := range s {
				if v < 0 {
					v = -v
				}
				d[i] = v + 0 // +0 turns -0 into +0
			}
		case opPow:
			powFwd(d, s, p)
		case opClamp:
			// Bounds compare in T, as PyTorch converts them to x's dtype.
			lo, hi := T(p), T(q)
			for i, v := range s {
				if v < lo {
					v = lo
				}
				if v > hi {
					v = hi
				}
				d[i] = v
			}
		case opReLU:
			for i, v := range s {
				if !(v > 0) && v == v {
					v = 0
				}
				d[i] = v
			}
		case opGELU, opGELUTanh:
			tanh := op == opGELUTanh
			if isF32[T]() {
				geluRow32(f32s(d), f32s(s), nil, nil, tanh)
				return
			}
			for i, v := range s {
				d[i] = T(geluT[T](float64(v), tanh))
			}
		case opSoftplus:
			for i, v := range s {
				x := float64(v)
				if x > softplusThre {
					d[i] = v
				} else {
					d[i] = T(math.Log1p(expT[T](x)))
				}
			}
		}
	})
}

// powFwd sets d = sᵖ with exact fast paths for the common exponents.
func powFwd[T Float](d, s []T, p float64) {
	switch p {
	case 1:
		copy(d, s)
	case 2:
		for i, v := range s {
			d[i] = v * v
		}
	case 0.5:
		for i, v := range s {
			d[i] = T(math.Sqrt(float64(v)))
		}
	case -1:
		for i, v := range s {
			d[i] = 1 / v
		}
	default:
		for i, v := range s {
			d[i] = T(math.Pow(float64(v), p))
		}
	}
}

// unaryBwd sets dx = g · op'(x), using the saved input x or output y,
// whichever gives the derivative more cheaply.
func unaryBwd[T Float](op unaryOp, dx, g, x, y []T, p, q float64) {
	parallel.For(len(dx), unaryGrain, func(lo, hi int) {
		d := dx[lo:hi]
		gs, xs, ys := g[lo:hi], x[lo:hi], y[lo:hi]
		switch op {
		case opNeg:
			for i, v := range gs {
				d[i] = -v
			}
		case opExp:
			for i, v := range gs {
				d[i] = v * ys[i]
			}
		case opLog:
			for i, v := range gs {
				d[i] = v / xs[i]
			}
		case opTanh:
			for i, v := range gs {
				t := ys[i]
				d[i] = v * (1 - t*t)
			}
		case opSqrt:
			for i, v := range gs {
				d[i] = v / (2 * ys[i])
			}
		case opRsqrt:
			for i, v := range gs {
				r := ys[i]
				d[i] = -0.5 * v * r * r * r
			}
		case opSigmoid:
			for i, v := range gs {
				s := ys[i]
				d[i] = v * s * (1 - s)
			}
		case opAbs:
			for i, v := range gs {
				switch xv := xs[i]; {
				case xv > 0:
					d[i] = v
				case xv < 0:
					d[i] = -v
				default:
					d[i] = 0 * v // sign(0)·g
				}
			}
		case opPow:
			powBwd(d, gs, xs, p)
		case opClamp:
			lo, hi := T(p), T(q)
			for i, v := range gs {
				if xv := xs[i]; xv >= lo && xv <= hi {
					d[i] = v
				} else {
					d[i] = 0
				}
			}
		case opReLU:
			for i, v := range gs {
				if xs[i] > 0 {
					d[i] = v
				} else {
					d[i] = 0
				}
			}
		case opGELU, opGELUTanh:
			tanh := op == opGELUTanh
			if isF32[T]() {
				geluRow32(f32s(d), f32s(xs), nil, f32s(gs), tanh)
				return
			}
			for i, v := range gs {
				d[i] = T(float64(v) * geluGradT[T](float64(xs[i]), tanh))
			}
		case opSoftplus:
			for i, v := range gs {
				x := float64(xs[i])
				if x > softplusThre {
					d[i] = v
				} else {
					z := expT[T](x)
					d[i] = T(float64(v) * z / (z + 1))
				}
			}
		}
	})
}

// powBwd sets d = g·p·xᵖ⁻¹ (0 for p == 0, as PyTorch's pow_backward).
func powBwd[T Float](d, g, x []T, p float64) {
	switch p {
	case 0:
		clear(d)
	case 1:
		copy(d, g)
	case 2:
		for i, v := range g {
			d[i] = 2 * v * x[i]
		}
	default:
		pt := T(p)
		for i, v := range g {
			d[i] = v * pt * T(math.Pow(float64(x[i]), p-1))
		}
	}
}
