// Package optim holds kiln's optimizers, learning-rate schedules and gradient
// clipping, each matching its PyTorch / Hugging Face counterpart on reference
// values (optim/testdata/optim_reference.json, written by tools/optimref/gen.py
// with torch 1.13):
//
//   - AdamW as torch.optim.AdamW (decoupled weight decay, amsgrad and maximize
//     off), bit for bit: one fused pass over each parameter chunk, chunks
//     spread over the engine's worker pool (see AdamW.update for when the
//     AVX2 kernel is used);
//   - SGD as torch.optim.SGD (momentum, dampening, Nesterov, weight decay);
//   - the schedules of transformers' get_scheduler as pure multipliers
//     func(step) float64 driven by a Scheduler with LambdaLR semantics;
//   - ClipGradNorm as torch.nn.utils.clip_grad_norm_.
//
// Parameters are named with their HF state-dict names; ParamGroups splits them
// into a decay and a no-decay group by HF Trainer's rule (see NoDecay).
//
//	groups := optim.ParamGroups(params, 0.01, nil)
//	opt, err := optim.NewAdamW(groups, optim.AdamWConfig{LR: 5e-5})
//	sched := optim.NewScheduler(opt, optim.Linear(warmup, total))
//	for ... {
//		loss.Backward()
//		norm, ok := optim.ClipGradNorm(params, 1.0)
//		if ok { opt.Step() }
//		sched.Step()
//		opt.ZeroGrad()
//	}
package optim

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kiln-ml/kiln/tensor"
)

// Param is one trainable tensor and its HF state-dict name
// ("bert.encoder.layer.0.output.LayerNorm.weight").
type Param struct {
	Name string
	T    *tensor.Tensor
}

// Group is a set of parameters sharing a weight decay, as a torch
// param_group.
type Group struct {
	Params      []Param
	WeightDecay float64
}

// noDecayPattern is HF Trainer.get_decay_parameter_names, by name only: HF
// excludes every parameter of a LayerNorm module (found by type) and every
// name matching bias, layernorm, rmsnorm, a ".norm." component or a "_norm"
// suffix (case-insensitive). Without module types kiln also recognises the
// LayerNorm modules that those patterns miss by their usual names: "layer_norm"
// (matched by _norm) and GPT-2's ln_1, ln_2, ln_f (a path component "ln" or
// starting with "ln_").
var noDecayPattern = regexp.MustCompile(`bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)|(?:^|\.)ln(?:_[^.]*)?(?:$|\.)`)

// NoDecay reports whether HF Trainer leaves the named parameter out of weight
// decay: all biases and all normalisation-layer parameters (LayerNorm,
// layer_norm, RMSNorm, norm, ln_*). The test is on the lower-cased name; it
// is the default predicate of ParamGroups.
func NoDecay(name string) bool {
	return noDecayPattern.MatchString(strings.ToLower(name))
}

// ParamGroups splits params as HF Trainer.create_optimizer does: group 0
// holds the parameters that decay (WeightDecay = weightDecay), group 1 those
// for which noDecay(name) is true (WeightDecay = 0). A nil noDecay means
// NoDecay. Order within each group follows params. Either group may be empty.
func ParamGroups(params []Param, weightDecay float64, noDecay func(name string) bool) []Group {
	if noDecay == nil {
		noDecay = NoDecay
	}
	decay := Group{WeightDecay: weightDecay}
	plain := Group{}
	for _, p := range params {
		if noDecay(p.Name) {
			plain.Params = append(plain.Params, p)
		} else {
			decay.Params = append(decay.Params, p)
		}
	}
	return []Group{decay, plain}
}

// Optimizer is what the trainer drives: AdamW and SGD implement it.
type Optimizer interface {
	// Step updates every parameter that has a gradient.
	Step()
	// ZeroGrad drops every parameter's gradient.
	ZeroGrad()
	// LR and SetLR read and set the learning rate of all groups.
	LR() float64
	SetLR(lr float64)
	// State snapshots the optimizer for a checkpoint; LoadState restores it.
	State() *State
	LoadState(st *State) error
}

// slot is one parameter inside an optimizer.
type slot struct {
	Param
	wd   float64
	data []float32 // the parameter's storage
}

// collect flattens groups into slots, checking that every parameter is a
// named float32 tensor that appears once.
func collect(kind string, groups []Group) ([]slot, error) {
	var slots []slot
	seen := map[string]bool{}
	for gi, g := range groups {
		if g.WeightDecay < 0 {
			return nil, fmt.Errorf("optim.%s: group %d: weight decay %v is negative", kind, gi, g.WeightDecay)
		}
		for _, p := range g.Params {
			switch {
			case p.Name == "":
				return nil, fmt.Errorf("optim.%s: group %d has a parameter with no name", kind, gi)
			case seen[p.Name]:
				return nil, fmt.Errorf("optim.%s: parameter %q appears twice", kind, p.Name)
			case p.T == nil:
				return nil, fmt.Errorf("optim.%s: parameter %q has no tensor", kind, p.Name)
			case p.T.DType() != tensor.Float32:
				return nil, fmt.Errorf("optim.%s: parameter %q is %v; only float32 parameters are supported", kind, p.Name, p.T.DType())
			}
			seen[p.Name] = true
			slots = append(slots, slot{Param: p, wd: g.WeightDecay, data: p.T.F32()})
		}
	}
	return slots, nil
}

// grad32 returns the gradient storage of s, or nil when it has none.
func (s *slot) grad32() []float32 {
	g := s.T.Grad()
	if g == nil {
		return nil
	}
	gd := g.F32()
	if len(gd) != len(s.data) {
		panic(fmt.Sprintf("optim: gradient of %q has %d elements, the parameter %d", s.Name, len(gd), len(s.data)))
	}
	return gd
}

// chunkElems is how many elements one parallel work item updates: big enough
// to amortise scheduling, small enough to balance a few large matrices over
// the workers. A variable so that tests can force odd splits.
var chunkElems = 1 << 15

// work is one chunk [lo, hi) of slot i.
type work struct{ i, lo, hi int }

// appendChunks appends slot i's chunks to ws.
func appendChunks(ws []work, i, n int) []work {
	for lo := 0; lo < n; lo += chunkElems {
		ws = append(ws, work{i, lo, min(lo+chunkElems, n)})
	}
	return ws
}
