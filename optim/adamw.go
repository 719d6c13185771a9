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

// update applies one step to a chunk with the fused AVX2 kernel (pure Go
// under -tags purego), which forms torch's factors from the float64 scalars
// exactly as scalars does.
func (o *AdamW) update(p, g, m, v []float32, wd float64, t int64) {
	c := o.cfg
	kernels.AdamWF32(p, g, m, v, c.LR, c.Beta1, c.Beta2, c.Eps, wd,
		1-math.Pow(c.Beta1, float64(t)), 1-math.Pow(c.Beta2, float64(t)))
}

// ZeroGrad drops every parameter's gradient (torch's set_to_none=True).
func (o *AdamW) ZeroGrad() { zeroGrad(o.slots) }

func zeroGrad(slots []slot) {
	for i := range slots {
		slots[i].T.ZeroGrad()
	}
}
