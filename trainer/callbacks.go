package trainer

import (
	"fmt"
	"math"
)

// Control is HF's TrainerControl: the only way a callback steers the loop.
// The loop reads it after each event and resets the flags it acted on.
type Control struct {
	ShouldTrainingStop bool
	ShouldEpochStop    bool
	ShouldSave         bool
	ShouldEvaluate     bool
	ShouldLog          bool
}

// Event names a point of the training loop.
type Event int

const (
	TrainBegin Event = iota
	TrainEnd
	EpochBegin
	EpochEnd
	StepEnd
	Log
	Evaluate
	Save
)

func (e Event) String() string {
	return [...]string{"train_begin", "train_end", "epoch_begin", "epoch_end", "step_end", "log", "evaluate", "save"}[e]
}

// CallbackInfo is what a callback sees: the arguments, the state and, for
// Log and Evaluate, the entry just logged or the metrics just computed; for
// Save, the checkpoint directory.
type CallbackInfo struct {
	Args    *Args
	State   *State
	Metrics Entry
	Dir     string
}

// Callback is called at every Event. It steers the loop only through ctl; an
// error stops training with that error.
type Callback interface {
	On(ev Event, info CallbackInfo, ctl *Control) error
}

// CallbackFunc adapts a function to Callback.
type CallbackFunc func(ev Event, info CallbackInfo, ctl *Control) error

// On calls f.
func (f CallbackFunc) On(ev Event, info CallbackInfo, ctl *Control) error { return f(ev, info, ctl) }

// EarlyStopping stops training after Patience evaluations in a row whose
// metric (Args.BestMetricKey) did not improve on the best so far by more
// than Threshold, as HF's EarlyStoppingCallback. The trainer adds it when
// early_stopping_patience > 0; its counter is saved in trainer_state.json.
type EarlyStopping struct {
	Patience  int
	Threshold float64
}

// On implements Callback.
func (es *EarlyStopping) On(ev Event, info CallbackInfo, ctl *Control) error {
	if ev != Evaluate {
		return nil
	}
	key := info.Args.BestMetricKey()
	v, ok := info.Metrics[key]
	if !ok {
		return fmt.Errorf("early stopping: metric_for_best_model %q is not among the evaluation metrics %v; set metric_for_best_model to one of them", key, sortedKeys(info.Metrics))
	}
	st := info.State
	switch {
	case math.IsNaN(v):
		st.EarlyStoppingCounter++
	case st.EarlyStoppingBest == nil || improves(v, *st.EarlyStoppingBest, info.Args.GreaterBetter()) && math.Abs(v-*st.EarlyStoppingBest) > es.Threshold:
		st.EarlyStoppingBest = &v
		st.EarlyStoppingCounter = 0
	default:
		st.EarlyStoppingCounter++
	}
	if info.State.EarlyStoppingCounter >= es.Patience {
		ctl.ShouldTrainingStop = true
	}
	return nil
}

// improves says whether v is better than best.
func improves(v, best float64, greater bool) bool {
	if greater {
		return v > best
	}
	return v < best
}
