package optim

import (
	"math"

	"github.com/kiln-ml/kiln/internal/kernels"
	"github.com/kiln-ml/kiln/internal/parallel"
)

// normChunk is the span summed in float32 (kernels.DotF32, 32 lanes) before
// the partial sums are added in float64.
const normChunk = 4096

// ClipGradNorm is torch.nn.utils.clip_grad_norm_ (norm_type 2) over the
// gradients of params (those without one are left out): it returns the
// total L2 norm of all gradients before clipping and, when
// coef = max_norm / (norm + 1e-6) is below 1, multiplies every gradient by
// coef, computed in float32 as torch 1.13 does. The norm is accumulated in
// float64.
//
// finite is false when the norm is NaN or infinite; then, unlike torch (which
// would multiply the gradients by NaN or 0), the gradients are left alone so
// that the caller can log the norm and skip the step.
func ClipGradNorm(params []Param, maxNorm float64) (norm float64, finite bool) {
	var grads [][]float32
	var ws []work
	for _, p := range params {
		g := p.T.Grad()
		if g == nil {
			continue
		}
		gd := g.F32()
		for lo := 0; lo < len(gd); lo += normChunk {
			ws = append(ws, work{len(grads), lo, min(lo+normChunk, len(gd))})
		}
		grads = append(grads, gd)
	}
	partial := make([]float64, len(ws))
	parallel.For(len(ws), parallel.Split(len(ws), 16, 4), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			x := grads[ws[k].i][ws[k].lo:ws[k].hi]
			partial[k] = float64(kernels.DotF32(x, x))
		}
	})
	var sum float64
	for _, s := range partial { // fixed order: the norm does not depend on the split
		sum += s
	}
	norm = math.Sqrt(sum)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, false
	}
	// torch: clip_coef = max_norm / (total_norm + 1e-6), all float32, the
	// division being reciprocal(total_norm + 1e-6) * max_norm.
	denom := float32(norm) + float32(1e-6)
	coef := (1 / denom) * float32(maxNorm)
	if coef < 1 {
		parallel.For(len(grads), 1, func(lo, hi int) {
			for _, g := range grads[lo:hi] {
				kernels.ScaleF32(g, coef)
			}
		})
	}
	return norm, true
}
