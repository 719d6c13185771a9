package optim

import "fmt"

// State is an optimizer's checkpoint: JSON-friendly metadata plus the raw
// float32 buffers, which are tagged json:"-" so that the trainer can store
// them in a tensor file (safetensors) next to the JSON. Params lists every
// parameter of the optimizer in order, stepped or not.
type State struct {
	Optimizer string       `json:"optimizer"` // "adamw" or "sgd"
	LR        float64      `json:"lr"`
	Params    []ParamState `json:"params"`
}

// ParamState is one parameter's optimizer state, with torch's buffer names.
// Buffers are nil before the parameter's first step.
type ParamState struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Step  int64  `json:"step"` // AdamW's per-parameter step count

	ExpAvg         []float32 `json:"-"` // AdamW
	ExpAvgSq       []float32 `json:"-"` // AdamW
	MomentumBuffer []float32 `json:"-"` // SGD with momentum
}

func clone(x []float32) []float32 {
	if x == nil {
		return nil
	}
	return append([]float32(nil), x...)
}

// State snapshots the optimizer (buffers are copied).
func (o *AdamW) State() *State {
	st := &State{Optimizer: "adamw", LR: o.cfg.LR}
	for i, s := range o.slots {
		st.Params = append(st.Params, ParamState{Name: s.Name, Shape: s.T.Shape(), Step: o.steps[i],
			ExpAvg: clone(o.m[i]), ExpAvgSq: clone(o.v[i])})
	}
	return st
}

// LoadState restores a snapshot taken from an optimizer over the same
// parameters (same names and shapes, any order), including the learning
// rate. On error nothing is changed.
func (o *AdamW) LoadState(st *State) error {
	idx, err := matchState("adamw", o.slots, st)
	if err != nil {
		return err
	}
	for i, ps := range idx {
		n := len(o.slots[i].data)
		if ps.Step < 0 {
			return fmt.Errorf("optim: state for parameter %q has negative step %d", ps.Name, ps.Step)
		}
		if ps.Step > 0 && (len(ps.ExpAvg) != n || len(ps.ExpAvgSq) != n) {
			return fmt.Errorf("optim: state for parameter %q has exp_avg of %d and exp_avg_sq of %d elements, want %d",
				ps.Name, len(ps.ExpAvg), len(ps.ExpAvgSq), n)
		}
	}
	for i, ps := range idx {
		o.steps[i] = ps.Step
		o.m[i], o.v[i] = nil, nil
		if ps.Step > 0 {
			o.m[i], o.v[i] = clone(ps.ExpAvg), clone(ps.ExpAvgSq)
		}
	}
	o.cfg.LR = st.LR
	return nil
}

// State snapshots the optimizer (buffers are copied).
func (o *SGD) State() *State {
	st := &State{Optimizer: "sgd", LR: o.cfg.LR}
	for i, s := range o.slots {
		st.Params = append(st.Params, ParamState{Name: s.Name, Shape: s.T.Shape(), MomentumBuffer: clone(o.buf[i])})
	}
	return st
}

// LoadState restores a snapshot taken from an SGD over the same parameters,
// including the learning rate. On error nothing is changed.
func (o *SGD) LoadState(st *State) error {
	idx, err := matchState("sgd", o.slots, st)
	if err != nil {
		return err
	}
	for i, ps := range idx {
		if n := len(o.slots[i].data); ps.MomentumBuffer != nil && len(ps.MomentumBuffer) != n {
			return fmt.Errorf("optim: state for parameter %q has a momentum buffer of %d elements, want %d", ps.Name, len(ps.MomentumBuffer), n)
		}
	}
	for i, ps := range idx {
		o.buf[i] = clone(ps.MomentumBuffer)
	}
	o.cfg.LR = st.LR
	return nil
}

// matchState pairs each slot with its entry in st by name, checking the
// optimizer kind, that the name sets are equal and that shapes agree.
func matchState(kind string, slots []slot, st *State) ([]*ParamState, error) {
	if st == nil {
		return nil, fmt.Errorf("optim: nil %s state", kind)
	}
	if st.Optimizer != kind {
		return nil, fmt.Errorf("optim: state is for %q, this optimizer is %q", st.Optimizer, kind)
	}
	byName := make(map[string]*ParamState, len(st.Params))
	for k := range st.Params {
		ps := &st.Params[k]
		if byName[ps.Name] != nil {
			return nil, fmt.Errorf("optim: state lists parameter %q twice", ps.Name)
		}
		byName[ps.Name] = ps
	}
	idx := make([]*ParamState, len(slots))
	for i, s := range slots {
		ps := byName[s.Name]
		if ps == nil {
			return nil, fmt.Errorf("optim: state has no entry for parameter %q", s.Name)
		}
		if shape := s.T.Shape(); !equalInts(shape, ps.Shape) {
			return nil, fmt.Errorf("optim: state for parameter %q has shape %v, the parameter %v", s.Name, ps.Shape, shape)
		}
		idx[i] = ps
		delete(byName, s.Name)
	}
	for name := range byName {
		return nil, fmt.Errorf("optim: state has parameter %q, which this optimizer does not have", name)
	}
	return idx, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
