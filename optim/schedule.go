package optim

import (
	"fmt"
	"math"
)

// Schedule is a learning-rate multiplier as a pure function of the step, as
// the lambdas transformers' get_scheduler hands to torch's LambdaLR: the
// learning rate for optimizer step k (0-based) is base_lr · f(k).
type Schedule func(step int) float64

// warm is the linear warmup every HF schedule shares: step / max(1, warmup).
func warm(step, warmup int) float64 { return float64(step) / float64(max(1, warmup)) }

// Constant is HF's "constant": 1 at every step.
func Constant() Schedule { return func(int) float64 { return 1 } }

// ConstantWithWarmup is HF's "constant_with_warmup": a linear ramp from 0 over
// warmup steps, then 1.
func ConstantWithWarmup(warmup int) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return warm(step, warmup)
		}
		return 1
	}
}

// Linear is HF's "linear": warmup, then a straight line from 1 at step warmup
// to 0 at step total, 0 after.
func Linear(warmup, total int) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return warm(step, warmup)
		}
		return max(0, float64(total-step)/float64(max(1, total-warmup)))
	}
}

// Cosine is HF's "cosine": warmup, then 0.5·(1 + cos(π·cycles·2·progress))
// floored at 0, progress running from 0 at warmup to 1 at total. HF's default
// numCycles is 0.5 (one half cosine down to 0).
func Cosine(warmup, total int, numCycles float64) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return warm(step, warmup)
		}
		progress := float64(step-warmup) / float64(max(1, total-warmup))
		return max(0, 0.5*(1+math.Cos(math.Pi*numCycles*2*progress)))
	}
}

// CosineWithRestarts is HF's "cosine_with_restarts"
// (get_cosine_with_hard_restarts_schedule_with_warmup): warmup, then numCycles
// half-cosines from 1 to 0, each restarting at 1; 0 from total on. HF's
// default numCycles is 1.
func CosineWithRestarts(warmup, total, numCycles int) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return warm(step, warmup)
		}
		progress := float64(step-warmup) / float64(max(1, total-warmup))
		if progress >= 1 {
			return 0
		}
		return max(0, 0.5*(1+math.Cos(math.Pi*math.Mod(float64(numCycles)*progress, 1))))
	}
}

// Polynomial is HF's "polynomial" (get_polynomial_decay_schedule_with_warmup):
// warmup, then lr decays from lrInit to lrEnd as (1-progress)^power, and stays
// at lrEnd after total; the multiplier is that lr / lrInit. lrInit is the
// optimizer's base learning rate and must exceed lrEnd. HF's defaults are
// lrEnd 1e-7 and power 1.
func Polynomial(warmup, total int, lrInit, lrEnd, power float64) (Schedule, error) {
	if !(lrInit > lrEnd) {
		return nil, fmt.Errorf("optim: polynomial schedule: lr_end (%v) must be smaller than the initial lr (%v)", lrEnd, lrInit)
	}
	return func(step int) float64 {
		switch {
		case step < warmup:
			return warm(step, warmup)
		case step > total:
			return lrEnd / lrInit
		}
		lrRange := lrInit - lrEnd
		pctRemaining := 1 - float64(step-warmup)/float64(total-warmup)
		return (lrRange*math.Pow(pctRemaining, power) + lrEnd) / lrInit
	}, nil
}

// InverseSqrt is HF's "inverse_sqrt": warmup, then 1/sqrt((step+shift)/timescale)
// with shift = timescale - warmup. timescale <= 0 means HF's default: warmup,
// or 10000 when warmup is 0.
func InverseSqrt(warmup, timescale int) Schedule {
	if timescale <= 0 {
		timescale = warmup
		if timescale == 0 {
			timescale = 10_000
		}
	}
	shift := timescale - warmup
	return func(step int) float64 {
		if step < warmup {
			return warm(step, warmup)
		}
		return 1 / math.Sqrt(float64(step+shift)/float64(timescale))
	}
}

// WarmupSteps resolves the warmup length as HF TrainingArguments.get_warmup_steps:
// warmupSteps when it is > 0, else ceil(warmupRatio · total).
func WarmupSteps(total, warmupSteps int, warmupRatio float64) int {
	if warmupSteps > 0 {
		return warmupSteps
	}
	return int(math.Ceil(float64(total) * warmupRatio))
}

// ScheduleOptions are get_scheduler's arguments. Zero NumCycles, Power and
// Timescale take HF's defaults (0.5 for cosine, 1 for cosine_with_restarts;
// power 1; timescale as InverseSqrt); a nil LREnd means 1e-7.
type ScheduleOptions struct {
	WarmupSteps, TotalSteps int
	NumCycles               float64
	Power                   float64
	LREnd                   *float64
	LRInit                  float64 // the base learning rate (polynomial only)
	Timescale               int
}

// ScheduleNames lists the names GetSchedule accepts.
var ScheduleNames = []string{"linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"}

// GetSchedule returns the schedule named as in transformers' SchedulerType.
func GetSchedule(name string, o ScheduleOptions) (Schedule, error) {
	if o.WarmupSteps < 0 {
		return nil, fmt.Errorf("optim: schedule %q: warmup steps %d must be >= 0", name, o.WarmupSteps)
	}
	needTotal := func() error {
		if o.TotalSteps <= 0 {
			return fmt.Errorf("optim: schedule %q needs the total number of training steps (got %d)", name, o.TotalSteps)
		}
		return nil
	}
	switch name {
	case "constant":
		return Constant(), nil
	case "constant_with_warmup":
		return ConstantWithWarmup(o.WarmupSteps), nil
	case "inverse_sqrt":
		return InverseSqrt(o.WarmupSteps, o.Timescale), nil
	case "linear":
		if err := needTotal(); err != nil {
			return nil, err
		}
		return Linear(o.WarmupSteps, o.TotalSteps), nil
	case "cosine":
		if err := needTotal(); err != nil {
			return nil, err
		}
		c := o.NumCycles
		if c == 0 {
			c = 0.5
		}
		return Cosine(o.WarmupSteps, o.TotalSteps, c), nil
	case "cosine_with_restarts":
		if err := needTotal(); err != nil {
			return nil, err
		}
		c := int(o.NumCycles)
		if float64(c) != o.NumCycles {
			return nil, fmt.Errorf("optim: schedule %q: num_cycles %v must be a whole number", name, o.NumCycles)
		}
		if c == 0 {
			c = 1
		}
		return CosineWithRestarts(o.WarmupSteps, o.TotalSteps, c), nil
	case "polynomial":
		if err := needTotal(); err != nil {
			return nil, err
		}
		end, pow := 1e-7, o.Power
		if o.LREnd != nil {
			end = *o.LREnd
		}
		if pow == 0 {
			pow = 1
		}
		return Polynomial(o.WarmupSteps, o.TotalSteps, o.LRInit, end, pow)
	}
	return nil, fmt.Errorf("optim: unknown schedule %q (want one of %v)", name, ScheduleNames)
}

// Scheduler drives an optimizer's learning rate as torch's LambdaLR: it
// remembers the optimizer's learning rate at construction as the base, sets
// base·f(0) at once, and base·f(k) after its k-th Step. Call Step after each
// optimizer step, as HF Trainer does.
type Scheduler struct {
	opt  interface{ SetLR(float64) }
	base float64
	f    Schedule
	step int
}

// NewScheduler attaches f to opt, taking opt's current learning rate as the
// base.
func NewScheduler(opt interface {
	LR() float64
	SetLR(float64)
}, f Schedule) *Scheduler {
	s := &Scheduler{opt: opt, base: opt.LR(), f: f}
	opt.SetLR(s.base * f(0))
	return s
}

// Step advances the schedule by one step and sets the new learning rate.
func (s *Scheduler) Step() {
	s.step++
	s.opt.SetLR(s.LastLR())
}

// LastLR is the learning rate the scheduler last set (get_last_lr).
func (s *Scheduler) LastLR() float64 { return s.base * s.f(s.step) }

// LastStep is the number of Steps taken (LambdaLR's last_epoch).
func (s *Scheduler) LastStep() int { return s.step }

// SchedulerState is the scheduler part of a checkpoint.
type SchedulerState struct {
	LastStep int     `json:"last_step"`
	BaseLR   float64 `json:"base_lr"`
}

// State snapshots the scheduler.
func (s *Scheduler) State() SchedulerState { return SchedulerState{LastStep: s.step, BaseLR: s.base} }

// LoadState restores a snapshot and sets the optimizer's learning rate to
// match it.
func (s *Scheduler) LoadState(st SchedulerState) error {
	if st.LastStep < 0 {
		return fmt.Errorf("optim: scheduler state: last step %d is negative", st.LastStep)
	}
	s.step, s.base = st.LastStep, st.BaseLR
	s.opt.SetLR(s.LastLR())
	return nil
}
