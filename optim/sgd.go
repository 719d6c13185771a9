package optim

import (
	"fmt"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// SGDConfig holds SGD's hyper-parameters (torch.optim.SGD's names); weight
// decay is per group. LR has no default and must be set.
type SGDConfig struct {
	LR, Momentum, Dampening float64
	Nesterov                bool
}

// SGD is torch.optim.SGD (torch 1.13, maximize off): per parameter,
//
//	d = g + wd·p
//	b = d on the first step, else momentum·b + (1-dampening)·d
//	d = d + momentum·b (Nesterov) or b
//	p = p - lr·d
//
// each line rounded to float32 as PyTorch's CPU kernels do (an add with
// alpha is one fused multiply-add). A parameter without a gradient is
// skipped.
type SGD struct {
	cfg   SGDConfig
	slots []slot
	buf   [][]float32 // momentum buffers, allocated on a slot's first step
	work  []work
}

// NewSGD builds an SGD over groups.
func NewSGD(groups []Group, cfg SGDConfig) (*SGD, error) {
	switch {
	case !(cfg.LR >= 0):
		return nil, fmt.Errorf("optim.SGD: learning rate %v must be >= 0", cfg.LR)
	case !(cfg.Momentum >= 0):
		return nil, fmt.Errorf("optim.SGD: momentum %v must be >= 0", cfg.Momentum)
	case cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0):
		return nil, fmt.Errorf("optim.SGD: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum %v, dampening %v)", cfg.Momentum, cfg.Dampening)
	}
	slots, err := collect("SGD", groups)
	if err != nil {
		return nil, err
	}
	return &SGD{cfg: cfg, slots: slots, buf: make([][]float32, len(slots))}, nil
}

// LR returns the current learning rate.
func (o *SGD) LR() float64 { return o.cfg.LR }

// SetLR sets the learning rate.
func (o *SGD) SetLR(lr float64) { o.cfg.LR = lr }

// ZeroGrad drops every parameter's gradient.
func (o *SGD) ZeroGrad() { zeroGrad(o.slots) }

// Step applies one SGD update to every parameter with a gradient.
func (o *SGD) Step() {
	ws := o.work[:0]
	grads := make([][]float32, len(o.slots))
	first := make([]bool, len(o.slots))
	for i := range o.slots {
		g := o.slots[i].grad32()
		if g == nil {
			continue
		}
		grads[i] = g
		if o.cfg.Momentum != 0 && o.buf[i] == nil {
			o.buf[i] = make([]float32, len(g))
			first[i] = true
		}
		ws = appendChunks(ws, i, len(g))
	}
	o.work = ws
	mom := float32(o.cfg.Momentum)
	omd := float32(1 - o.cfg.Dampening)
	negLR := float32(-o.cfg.LR)
	parallel.For(len(ws), 1, func(lo, hi int) {
		for _, w := range ws[lo:hi] {
			s := &o.slots[w.i]
			p, g := s.data[w.lo:w.hi], grads[w.i][w.lo:w.hi]
			wd := float32(s.wd)
			var b []float32
			if mom != 0 {
				b = o.buf[w.i][w.lo:w.hi]
			}
			for j := range p {
				d := g[j]
				if wd != 0 {
					d = fma32(p[j], wd, d) // d_p.add(param, alpha=wd)
				}
				if mom != 0 {
					if first[w.i] {
						b[j] = d // buf = clone(d_p)
					} else {
						b[j] = fma32(d, omd, b[j]*mom) // buf.mul_(m).add_(d_p, alpha=1-dampening)
					}
					if o.cfg.Nesterov {
						d = fma32(b[j], mom, d)
					} else {
						d = b[j]
					}
				}
				p[j] = fma32(d, negLR, p[j]) // param.add_(d_p, alpha=-lr)
			}
		}
	})
}

// fma32 is a·b+c rounded once to float32, as PyTorch's vectorised fmadd
// (the float64 product of two float32 values is exact).
func fma32(a, b, c float32) float32 { return float32(float64(a)*float64(b) + float64(c)) }
