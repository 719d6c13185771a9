package trainer

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
)

// Entry is one log_history record as HF writes it: "loss", "grad_norm",
// "learning_rate", "epoch", "step" for training logs; "eval_loss",
// "eval_<metric>", "eval_runtime", ... for evaluations.
type Entry map[string]float64

// State is HF's TrainerState, written as trainer_state.json in every
// checkpoint (sorted, indented JSON, the same field names) so that notebooks
// that plot log_history keep working.
type State struct {
	Epoch               float64  `json:"epoch"`
	GlobalStep          int      `json:"global_step"`
	MaxSteps            int      `json:"max_steps"`
	NumTrainEpochs      int      `json:"num_train_epochs"`
	LoggingSteps        int      `json:"logging_steps"`
	EvalSteps           int      `json:"eval_steps"`
	SaveSteps           int      `json:"save_steps"`
	TrainBatchSize      int      `json:"train_batch_size"`
	TotalFlos           float64  `json:"total_flos"`
	LogHistory          []Entry  `json:"log_history"`
	BestMetric          *float64 `json:"best_metric"`
	BestGlobalStep      *int     `json:"best_global_step"`
	BestModelCheckpoint *string  `json:"best_model_checkpoint"`
	IsWorldProcessZero  bool     `json:"is_world_process_zero"`
	IsLocalProcessZero  bool     `json:"is_local_process_zero"`
	IsHyperParamSearch  bool     `json:"is_hyper_param_search"`
	TrialName           *string  `json:"trial_name"`
	TrialParams         any      `json:"trial_params"`

	// kiln's own fields (HF ignores unknown keys when it loads a state).

	// NonFiniteSteps lists the steps skipped because the loss or the
	// gradient norm was not finite.
	NonFiniteSteps []int `json:"kiln_non_finite_steps,omitempty"`
	// EarlyStoppingCounter is the early-stopping patience used so far.
	EarlyStoppingCounter int `json:"kiln_early_stopping_counter,omitempty"`
	// PendingLoss and PendingSteps are the step losses since the last log
	// entry, so that a resumed run logs the same averages.
	PendingLoss       float64  `json:"kiln_pending_loss,omitempty"`
	PendingSteps      int      `json:"kiln_pending_steps,omitempty"`
	EarlyStoppingBest *float64 `json:"kiln_early_stopping_best,omitempty"`
}

// MarshalJSON writes non-finite numbers of log entries as HF's json module
// does (NaN, Infinity) would make invalid JSON; kiln writes null instead.
func (e Entry) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		kb, _ := json.Marshal(k)
		buf = append(buf, kb...)
		buf = append(buf, ':')
		v := e[k]
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			buf = append(buf, "null"...)
		case v == math.Trunc(v) && math.Abs(v) < 1e15:
			buf = fmt.Appendf(buf, "%d", int64(v))
		default:
			vb, _ := json.Marshal(v)
			buf = append(buf, vb...)
		}
	}
	return append(buf, '}'), nil
}

// UnmarshalJSON reads an entry, keeping numbers (null as NaN) and dropping
// other values (HF entries may hold strings).
func (e *Entry) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Entry{}
	for k, v := range raw {
		switch x := v.(type) {
		case float64:
			(*e)[k] = x
		case nil:
			(*e)[k] = math.NaN()
		}
	}
	return nil
}

// WriteJSON writes the state as indented JSON with sorted keys.
func (s *State) WriteJSON(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	// Re-marshal through a map to sort the top-level keys as HF does.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(path, append(out, '\n'))
}

// ReadState reads a trainer_state.json.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &State{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
