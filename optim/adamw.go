package optim

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/internal/kernels"
	"github.com/kiln-ml/kiln/internal/parallel"
)

// AdamWConfig holds AdamW's hyper-parameters; zero fields take HF
// TrainingArguments' defaults (lr 5e-5, betas 0.9 and 0.999, eps 1e-8).
// Weight decay is per group (ParamGroups).
type AdamWConfig struct {
	LR, Beta1, Beta2, Eps float64
}

// AdamW is torch.optim.AdamW (torch 1.13, amsgrad=False, maximize=False):
// per parameter, with t its own step count,
//
//	p  = p·(1 - lr·wd)
//	m  = β1·m + (1-β1)·g
//	v  = β2·v + (1-β2)·g²
//	p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)
//
// in PyTorch's float32 operation order (kernels.AdamWF32). A parameter
// without a gradient is skipped and its step count does not advance, as in
// torch.
type AdamW struct {
	cfg   AdamWConfig
	slots []slot
	m, v  [][]float32 // moments, allocated on a slot's first step
	steps []int64
	work  []work // reused by Step
}

// NewAdamW builds an AdamW over groups. Every parameter must be a named
// float32 tensor appearing once.
func NewAdamW(groups []Group, cfg AdamWConfig) (*AdamW, error) {
	if cfg.LR == 0 {
		cfg.LR = 5e-5
	}
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	switch {
	case !(cfg.LR >= 0):
		return nil, fmt.Errorf("optim.AdamW: learning rate %v must be >= 0", cfg.LR)
	case !(cfg.Beta1 >= 0 && cfg.Beta1 < 1):
		return nil, fmt.Errorf("optim.AdamW: beta1 %v must be in [0, 1)", cfg.Beta1)
	case !(cfg.Beta2 >= 0 && cfg.Beta2 < 1):
		return nil, fmt.Errorf("optim.AdamW: beta2 %v must be in [0, 1)", cfg.Beta2)
	case !(cfg.Eps >= 0):
		return nil, fmt.Errorf("optim.AdamW: eps %v must be >= 0", cfg.Eps)
	}
	slots, err := collect("AdamW", groups)
	if err != nil {
		return nil, err
	}
	n := len(slots)
	return &AdamW{cfg: cfg, slots: slots, m: make([][]float32, n), v: make([][]float32, n),
		steps: make([]int64, n)}, nil
}

// LR returns the current learning rate.
func (o *AdamW) LR() float64 { return o.cfg.LR }

// SetLR sets the learning rate (the scheduler calls it every step).
func (o *AdamW) SetLR(lr float64) { o.cfg.LR = lr }

// Config returns the hyper-parameters in use.
func (o *AdamW) Config() AdamWConfig { return o.cfg }

// Step applies one AdamW update to every parameter with a gradient: one
// fused pass over each parameter, its chunks spread over the worker pool.
// The update is element-wise, so the split never changes the result.
func (o *AdamW) Step() {
	ws := o.work[:0]
	grads := make([][]float32, len(o.slots))
	for i := range o.slots {
		s := &o.slots[i]
		g := s.grad32()
		if g == nil {
			continue
		}
		grads[i] = g
		if o.m[i] == nil {
			o.m[i] = make([]float32, len(s.data))
			o.v[i] = make([]float32, len(s.data))
		}
		o.steps[i]++
		ws = appendChunks(ws, i, len(s.data))
	}
	o.work = ws
	parallel.For(len(ws), 1, func(lo, hi int) {
		for _, w := range ws[lo:hi] {
			s := &o.slots[w.i]
			o.update(s.data[w.lo:w.hi], grads[w.i][w.lo:w.hi], o.m[w.i][w.lo:w.hi], o.v[w.i][w.lo:w.hi], s.wd, o.steps[w.i])
		}
	})
}

// scalars are the float32 factors torch 1.13 hands its kernels for one
// parameter at step t: Python floats computed in float64 and rounded once.
type scalars struct{ decay, b1, omb1, b2, omb2, sqrtbc2, eps, negStep float32 }

func (o *AdamW) scalars(wd float64, t int64) scalars {
	c := o.cfg
	bc1 := 1 - math.Pow(c.Beta1, float64(t))
	bc2 := 1 - math.Pow(c.Beta2, float64(t))
	return scalars{
		decay: float32(1 - c.LR*wd), b1: float32(c.Beta1), omb1: float32(1 - c.Beta1),
		b2: float32(c.Beta2), omb2: float32(1 - c.Beta2), sqrtbc2: float32(math.Sqrt(bc2)),
		eps: float32(c.Eps), negStep: float32(-(c.LR / bc1)),
	}
}

// kernelScalars are the factors kernels.AdamWF32 derives from its float32
// arguments (it rounds lr, the betas and the bias corrections to float32
// before computing 1-β, 1-lr·wd, sqrt(bc2) and -lr/bc1 from them).
func (o *AdamW) kernelScalars(wd float64, t int64) scalars {
	c := o.cfg
	f := func(x float64) float64 { return float64(float32(x)) }
	bc1 := f(1 - math.Pow(c.Beta1, float64(t)))
	bc2 := f(1 - math.Pow(c.Beta2, float64(t)))
	lr, b1, b2 := f(c.LR), f(c.Beta1), f(c.Beta2)
	return scalars{
		decay: float32(1 - lr*f(wd)), b1: float32(b1), omb1: float32(1 - b1),
		b2: float32(b2), omb2: float32(1 - b2), sqrtbc2: float32(math.Sqrt(bc2)),
		eps: float32(c.Eps), negStep: float32(-lr / bc1),
	}
}

// update applies one step to a chunk. It runs the AVX2 kernel when the
// kernel's float32-derived factors equal torch's; otherwise (the usual case:
// float32(1-float32(0.999)) is 1.3e-5 away from float32(1-0.999)) it runs
// the same operations in Go with torch's factors.
func (o *AdamW) update(p, g, m, v []float32, wd float64, t int64) {
	s := o.scalars(wd, t)
	if s == o.kernelScalars(wd, t) {
		c := o.cfg
		kernels.AdamWF32(p, g, m, v, float32(c.LR), float32(c.Beta1), float32(c.Beta2), float32(c.Eps), float32(wd),
			float32(1-math.Pow(c.Beta1, float64(t))), float32(1-math.Pow(c.Beta2, float64(t))))
		return
	}
	adamw(p, g, m, v, &s)
}

// adamw is torch 1.13's _single_tensor_adamw for one float32 chunk, each
// line rounded to float32 (the conversions stop the compiler from fusing a
// multiply into an add where PyTorch does not):
//
//	param.mul_(1 - lr*wd)
//	exp_avg.mul_(b1).add_(g, alpha=1-b1)            // one fused multiply-add
//	exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2)  // v*b2 + ((1-b2)*g)*g
//	denom = exp_avg_sq.sqrt() / sqrt(bc2) + eps
//	param.addcdiv_(exp_avg, denom, value=-lr/bc1)   // p + ((-lr/bc1)*m)/denom
func adamw(p, g, m, v []float32, s *scalars) {
	_, _, _ = g[len(p)-1], m[len(p)-1], v[len(p)-1]
	for i := range p {
		pi := float32(p[i] * s.decay)
		gi := g[i]
		mi := fma32(gi, s.omb1, float32(m[i]*s.b1))
		vi := float32(v[i]*s.b2) + float32(float32(s.omb2*gi)*gi)
		m[i], v[i] = mi, vi
		d := float32(float32(math.Sqrt(float64(vi)))/s.sqrtbc2) + s.eps
		p[i] = pi + float32(float32(s.negStep*mi)/d)
	}
}

// ZeroGrad drops every parameter's gradient (torch's set_to_none=True).
func (o *AdamW) ZeroGrad() { zeroGrad(o.slots) }

func zeroGrad(slots []slot) {
	for i := range slots {
		slots[i].T.ZeroGrad()
	}
}
