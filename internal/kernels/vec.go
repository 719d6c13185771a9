package kernels

// Vectorised float32 kernels for the memory-bound parts of the tensor engine.
//
// Every function works on one row (or one flat buffer) and is
// single-threaded: callers split rows across the worker pool. On amd64 CPUs
// with AVX2 and FMA the work is done by the assembly in vec_amd64.s; on other
// CPUs, other architectures and under the purego build tag the pure-Go code
// in vec_generic.go computes the same formulas. Both paths are tested against
// float64 references in vec_test.go.
//
// Length rules: slices that are combined element by element must have the
// same length, else the function panics. Unless a comment says otherwise an
// output may alias an input of the same length exactly (same first element);
// partial overlaps are not supported.

func checkLen(n int, lens ...int) {
	for _, l := range lens {
		if l != n {
			panic("kernels: slice length mismatch")
		}
	}
}

// checkOpt checks an optional per-element operand: nil, or length n.
func checkOpt(n int, s []float32) {
	if s != nil && len(s) != n {
		panic("kernels: slice length mismatch")
	}
}

// ExpF32 sets dst[i] = e^src[i]. It uses the method of Exp32 (Cody-Waite
// reduction x = k·ln2 + r, degree-7 polynomial for e^r, 2^k built in the
// exponent bits in two halves so that subnormal results are rounded once);
// the relative error is below 2 ulp. Arguments above 88.72 give +Inf, below
// -103.97 give 0, NaN gives NaN. dst may alias src.
func ExpF32(dst, src []float32) {
	checkLen(len(dst), len(src))
	if len(dst) == 0 {
		return
	}
	vecExp(dst, src)
}

// SoftmaxF32 sets dst to the softmax of the row src:
// dst[i] = e^(src[i]-m) / Σ_j e^(src[j]-m) with m = max_j src[j]. The sum is
// accumulated in float64. A NaN anywhere in the row, or a row whose maximum
// is ±Inf, makes the whole row NaN (as PyTorch). dst may alias src.
func SoftmaxF32(dst, src []float32) {
	checkLen(len(dst), len(src))
	if len(dst) == 0 {
		return
	}
	vecSoftmax(dst, src)
}

// SoftmaxBackwardF32 sets dx to the gradient of softmax with respect to its
// input, given the forward output y and the output gradient g:
// dx[i] = y[i]·(g[i] - s) with s = Σ_j g[j]·y[j]. dx may alias y or g.
func SoftmaxBackwardF32(dx, y, g []float32) {
	checkLen(len(dx), len(y), len(g))
	if len(dx) == 0 {
		return
	}
	vecSoftmaxBackward(dx, y, g)
}

// LogSoftmaxF32 sets dst[i] = (src[i] - m) - log Σ_j e^(src[j]-m) with
// m = max_j src[j]; the sum is accumulated in float64 and its log taken in
// float64. dst may alias src.
func LogSoftmaxF32(dst, src []float32) {
	checkLen(len(dst), len(src))
	if len(dst) == 0 {
		return
	}
	vecLogSoftmax(dst, src)
}

// LogSoftmaxBackwardF32 sets dx to the gradient of log-softmax given its
// forward output out and the output gradient g:
// dx[i] = g[i] - e^out[i]·Σ_j g[j]. dx may alias out or g.
func LogSoftmaxBackwardF32(dx, out, g []float32) {
	checkLen(len(dx), len(out), len(g))
	if len(dx) == 0 {
		return
	}
	vecLogSoftmaxBackward(dx, out, g)
}

// GELUF32 sets dst[i] = gelu(u) with u = src[i] + bias[i] (bias may be nil,
// meaning 0), using the exact form gelu(u) = u·Φ(u) = 0.5u(1+erf(u/√2)).
// Φ(-|u|) = erfc(|u|/√2)/2 is computed as t·e^(-u²/2 + P(t))/2 with
// t = 1/(1+|u|/(2√2)) and the Chebyshev fit P of Numerical Recipes; u² is
// split exactly into two floats so the exponent keeps full precision. The
// relative error is below 1e-6 for every u whose result is a normal float32,
// the negative tail included. NaN gives NaN; gelu(-Inf) is NaN as in PyTorch.
// dst may alias src.
func GELUF32(dst, src, bias []float32) {
	checkLen(len(dst), len(src))
	checkOpt(len(dst), bias)
	if len(dst) == 0 {
		return
	}
	vecGELU(dst, src, bias)
}

// GELUBackwardF32 sets dx[i] = g[i]·(Φ(u) + u·φ(u)) with u = src[i] + bias[i]
// (bias may be nil, meaning 0), Φ and φ the standard normal CDF and density,
// computed as in GELUF32; the factor u of φ is clamped to ±14.5 (where φ is
// 0 in float32) so that u = ±Inf gives 1 and 0. dx may alias src or g.
func GELUBackwardF32(dx, src, bias, g []float32) {
	checkLen(len(dx), len(src), len(g))
	checkOpt(len(dx), bias)
	if len(dx) == 0 {
		return
	}
	vecGELUBackward(dx, src, bias, g)
}

// GELUTanhF32 sets dst[i] = 0.5u(1+tanh(y)) with u = src[i] + bias[i] (bias
// may be nil, meaning 0) and y = √(2/π)(u + 0.044715u³): the "gelu_new" /
// approximate="tanh" form. It is evaluated as u·s with E = e^(-2|y|) and
// s = (1+tanh y)/2 = (u < 0 ? E : 1)/(1+E), which has no cancellation in
// the negative tail and no overflow for large |y|. NaN gives NaN and -Inf
// gives NaN (-Inf·0, as PyTorch). dst may alias src.
func GELUTanhF32(dst, src, bias []float32) {
	checkLen(len(dst), len(src))
	checkOpt(len(dst), bias)
	if len(dst) == 0 {
		return
	}
	vecGELUTanh(dst, src, bias)
}

// GELUTanhBackwardF32 sets dx[i] = g[i]·d/du[0.5u(1+tanh(y))] with
// u = src[i] + bias[i] (bias may be nil) and y as in GELUTanhF32:
// with s = (1+tanh y)/2 (computed as in GELUTanhF32) the derivative is
// s·(1 + 2u·(1-s)·√(2/π)(1 + 3·0.044715u²)). u is clamped to [-20, 20]
// first (the derivative is exactly 0 or 1 beyond), so ±Inf give 0 and 1.
// dx may alias src or g.
func GELUTanhBackwardF32(dx, src, bias, g []float32) {
	checkLen(len(dx), len(src), len(g))
	checkOpt(len(dx), bias)
	if len(dx) == 0 {
		return
	}
	vecGELUTanhBackward(dx, src, bias, g)
}

// LayerNormF32 normalises the row src and returns its mean and
// rstd = 1/sqrt(var + eps) (biased variance, as PyTorch):
// dst[i] = (src[i] - mean)·rstd·weight[i] + bias[i]. The mean and the
// two-pass variance Σ(x-mean)²/n are accumulated in float64, and the mean is
// kept as a float32 pair (hi + lo) when centring, so dst matches a float64
// reference to about 3e-7 relative even for rows whose mean is far larger
// than their spread. weight may be nil (1) and bias may be nil (0). dst may
// alias src. An empty row returns (0, 0).
func LayerNormF32(dst, src, weight, bias []float32, eps float32) (mean, rstd float32) {
	checkLen(len(dst), len(src))
	checkOpt(len(dst), weight)
	checkOpt(len(dst), bias)
	if len(dst) == 0 {
		return 0, 0
	}
	return vecLayerNorm(dst, src, weight, bias, eps)
}

// LayerNormBackwardF32 computes the gradients of one LayerNormF32 row given
// the forward input src, its mean and rstd, the weight (nil means 1) and the
// output gradient g. With xhat = (src[i]-mean)·rstd and dxhat = g[i]·weight[i]:
// dx[i] = rstd·(dxhat - mean_j(dxhat_j) - xhat·mean_j(dxhat_j·xhat_j)), and it
// ADDS this row's parameter gradients: dweightAcc[i] += g[i]·xhat,
// dbiasAcc[i] += g[i] (either may be nil to skip it). The two row means are
// accumulated in float64. dx may alias src or g; the accumulators must not
// alias anything else.
func LayerNormBackwardF32(dx, dweightAcc, dbiasAcc, src, weight, g []float32, mean, rstd float32) {
	checkLen(len(dx), len(src), len(g))
	checkOpt(len(dx), weight)
	checkOpt(len(dx), dweightAcc)
	checkOpt(len(dx), dbiasAcc)
	if len(dx) == 0 {
		return
	}
	vecLayerNormBackward(dx, dweightAcc, dbiasAcc, src, weight, g, mean, rstd)
}

// AdamWF32 applies one torch.optim.AdamW step (PyTorch 1.13 single-tensor
// code path, amsgrad off) to the parameters p with gradient g and the moment
// buffers m and v, with bc1 = 1-beta1^t and bc2 = 1-beta2^t computed by the
// caller. In PyTorch's operation order, each line rounded to float32 as
// PyTorch's CPU kernels do:
//
//	p = p·(1 - lr·weightDecay)
//	m = fma(g, 1-beta1, m·beta1)           // exp_avg.mul_(b1).add_(g, alpha=1-b1)
//	v = v·beta2 + ((1-beta2)·g)·g         // exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2)
//	d = sqrt(v)/sqrt(bc2) + eps           // denom
//	p = p + ((-lr/bc1)·m)/d               // param.addcdiv_(exp_avg, denom, value=-lr/bc1)
//
// The scalars are float64, as the Python floats PyTorch receives: the
// factors (1 - lr·wd, 1-beta1, 1-beta2, sqrt(bc2), -lr/bc1) are computed in
// float64 and rounded to float32 once, so 1-beta2 for beta2 = 0.999 is
// float32(0.001), not 1 - float32(0.999). None of p, g, m, v may alias
// another.
func AdamWF32(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay, bc1, bc2 float64) {
	checkLen(len(p), len(g), len(m), len(v))
	if len(p) == 0 {
		return
	}
	s := adamScalars{
		decay:   float32(1 - lr*weightDecay),
		b1:      float32(beta1),
		omb1:    float32(1 - beta1),
		b2:      float32(beta2),
		omb2:    float32(1 - beta2),
		sqrtbc2: float32(sqrt64(bc2)),
		eps:     float32(eps),
		negStep: float32(-(lr / bc1)),
	}
	vecAdamW(p, g, m, v, &s)
}

// adamScalars is the float32 scalar block read by the AdamW kernels (the
// assembly reads it by offset: keep the field order).
type adamScalars struct {
	decay, b1, omb1, b2, omb2, sqrtbc2, eps, negStep float32
}

// AxpyF32 sets y[i] += a·x[i] (one fused multiply-add per element in the
// assembly path). y and x must not partially overlap; y may equal x.
func AxpyF32(y, x []float32, a float32) {
	checkLen(len(y), len(x))
	if len(y) == 0 {
		return
	}
	vecAxpy(y, x, a)
}

// ScaleF32 sets x[i] *= a.
func ScaleF32(x []float32, a float32) {
	if len(x) == 0 {
		return
	}
	vecScale(x, a)
}

// AddF32 sets dst[i] = a[i] + b[i]. dst may alias a or b.
func AddF32(dst, a, b []float32) {
	checkLen(len(dst), len(a), len(b))
	if len(dst) == 0 {
		return
	}
	vecAdd(dst, a, b)
}

// MulF32 sets dst[i] = a[i]·b[i]. dst may alias a or b.
func MulF32(dst, a, b []float32) {
	checkLen(len(dst), len(a), len(b))
	if len(dst) == 0 {
		return
	}
	vecMul(dst, a, b)
}

// DotF32 returns Σ a[i]·b[i], accumulated in float32 in 32 parallel lanes
// (8-wide vectors × 4) that are summed pairwise at the end; the pure-Go path
// uses the same lane layout. Empty slices give 0.
func DotF32(a, b []float32) float32 {
	checkLen(len(a), len(b))
	if len(a) == 0 {
		return 0
	}
	return vecDot(a, b)
}

// SumF32 returns Σ x[i], accumulated like DotF32. An empty slice gives 0.
func SumF32(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return vecSum(x)
}

// MaxF32 returns max_i x[i]: -Inf for an empty slice, NaN if any element is
// NaN. The sign of a zero maximum is unspecified (+0 and -0 compare equal).
func MaxF32(x []float32) float32 {
	if len(x) == 0 {
		return float32(negInf64())
	}
	return vecMax(x)
}
