package trainer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/optim"
)

// Accepted values of the enumerated arguments.
var (
	argOptimNames     = []string{"adamw", "sgd"}
	argStrategyNames  = []string{"no", "steps", "epoch"}
	argLabelNameSet   = []string{"labels", "start_positions", "end_positions"}
	argReportToValues = []string{"none", "all", "tensorboard"}
)

// Validate checks every argument and every combination the trainer relies
// on. It reports all problems at once (joined), each naming the argument by
// its Hugging Face key, its value, and how to fix it, as
//
//	learning_rate = -1: must be a positive, finite number (e.g. 5e-05)
//
// Call it after the configuration file and the flags are applied.
func (a Args) Validate() error {
	var errs []error
	bad := func(key string, value any, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s = %s: %s", key, showArgValue(value), fmt.Sprintf(format, args...)))
	}
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

	if a.OutputDir == "" {
		bad("output_dir", a.OutputDir, "must name the directory for checkpoints, logs and the final model")
	}

	// How long to train.
	switch {
	case a.MaxSteps == 0 || a.MaxSteps < -1:
		bad("max_steps", a.MaxSteps, "must be a positive number of optimizer steps, or -1 to train for num_train_epochs")
	case a.MaxSteps == -1 && !(a.NumTrainEpochs > 0 && finite(a.NumTrainEpochs)):
		bad("num_train_epochs", a.NumTrainEpochs, "must be a positive, finite number of epochs (fractions allowed), or set max_steps > 0")
	case !finite(a.NumTrainEpochs):
		bad("num_train_epochs", a.NumTrainEpochs, "must be finite (max_steps > 0 overrides it; set it to e.g. 3)")
	}

	// Batches.
	if a.PerDeviceTrainBatchSize < 1 {
		bad("per_device_train_batch_size", a.PerDeviceTrainBatchSize, "must be at least 1")
	}
	if a.PerDeviceEvalBatchSize < 1 {
		bad("per_device_eval_batch_size", a.PerDeviceEvalBatchSize, "must be at least 1")
	}
	if a.GradientAccumulationSteps < 1 {
		bad("gradient_accumulation_steps", a.GradientAccumulationSteps, "must be at least 1 (1 means no accumulation)")
	}

	// Optimizer.
	if !slices.Contains(argOptimNames, a.Optim) {
		hint := ""
		if strings.HasPrefix(a.Optim, "adamw") || a.Optim == "adam" {
			hint = " (Hugging Face's adamw_torch is called adamw here)"
		}
		bad("optim", a.Optim, "must be one of %s%s", strings.Join(argOptimNames, ", "), hint)
	}
	if !(a.LearningRate > 0 && finite(a.LearningRate)) {
		bad("learning_rate", a.LearningRate, "must be a positive, finite number (e.g. 5e-05)")
	}
	if !(a.WeightDecay >= 0 && finite(a.WeightDecay)) {
		bad("weight_decay", a.WeightDecay, "must be a finite number >= 0 (0 turns weight decay off)")
	}
	if !(a.AdamBeta1 >= 0 && a.AdamBeta1 < 1) {
		bad("adam_beta1", a.AdamBeta1, "must be in [0, 1) (the default is 0.9)")
	}
	if !(a.AdamBeta2 >= 0 && a.AdamBeta2 < 1) {
		bad("adam_beta2", a.AdamBeta2, "must be in [0, 1) (the default is 0.999)")
	}
	if !(a.AdamEpsilon > 0 && finite(a.AdamEpsilon)) {
		bad("adam_epsilon", a.AdamEpsilon, "must be a positive, finite number (the default is 1e-08)")
	}
	if !(a.MaxGradNorm >= 0 && finite(a.MaxGradNorm)) {
		bad("max_grad_norm", a.MaxGradNorm, "must be a finite number >= 0 (0 turns clipping off)")
	}

	// Schedule.
	if !slices.Contains(optim.ScheduleNames, a.LRSchedulerType) {
		bad("lr_scheduler_type", a.LRSchedulerType, "must be one of %s", strings.Join(optim.ScheduleNames, ", "))
	} else if a.LRSchedulerType == "polynomial" && a.LearningRate > 0 && a.LearningRate <= 1e-7 {
		bad("learning_rate", a.LearningRate, "must be above 1e-07 with lr_scheduler_type = polynomial, which decays to 1e-07 (as Hugging Face's)")
	}
	if !(a.WarmupRatio >= 0 && a.WarmupRatio <= 1) {
		bad("warmup_ratio", a.WarmupRatio, "must be in [0, 1]: the fraction of the training steps spent warming up")
	}
	if a.WarmupSteps < 0 {
		bad("warmup_steps", a.WarmupSteps, "must be >= 0 (0 uses warmup_ratio)")
	}

	// Logging, evaluation, saving.
	if a.LoggingSteps < 1 {
		bad("logging_steps", a.LoggingSteps, "must be a whole number of steps >= 1 (Hugging Face's fractions of the training steps are not supported)")
	}
	evalOK := slices.Contains(argStrategyNames, a.EvalStrategy)
	if !evalOK {
		bad("eval_strategy", a.EvalStrategy, "must be one of %s", strings.Join(argStrategyNames, ", "))
	}
	if a.EvalSteps < 0 {
		bad("eval_steps", a.EvalSteps, "must be >= 0 (0 evaluates every logging_steps)")
	} else if a.EvalStrategy == "steps" && a.EffectiveEvalSteps() < 1 {
		bad("eval_steps", a.EvalSteps, "eval_strategy = steps needs eval_steps > 0 (or logging_steps > 0)")
	}
	saveOK := slices.Contains(argStrategyNames, a.SaveStrategy)
	if !saveOK {
		hint := ""
		if a.SaveStrategy == "best" {
			hint = " (Hugging Face's \"best\" is not supported: save with steps or epoch and set metric_for_best_model, which keeps the best checkpoint)"
		}
		bad("save_strategy", a.SaveStrategy, "must be one of %s%s", strings.Join(argStrategyNames, ", "), hint)
	}
	if a.SaveStrategy == "steps" && a.SaveSteps < 1 {
		bad("save_steps", a.SaveSteps, "must be at least 1 with save_strategy = steps (or set save_strategy to epoch or no)")
	} else if a.SaveSteps < 0 {
		bad("save_steps", a.SaveSteps, "must be >= 0")
	}
	if a.SaveTotalLimit < 0 {
		bad("save_total_limit", a.SaveTotalLimit, "must be >= 0 (0 keeps every checkpoint)")
	}

	// Best model and early stopping.
	if a.LoadBestModelAtEnd && evalOK && saveOK {
		switch {
		case a.EvalStrategy == "no":
			bad("load_best_model_at_end", true, "needs evaluations: set eval_strategy to steps or epoch")
		case a.SaveStrategy != a.EvalStrategy:
			bad("save_strategy", a.SaveStrategy, "must equal eval_strategy (%q) with load_best_model_at_end, so that every evaluation has a checkpoint to load", a.EvalStrategy)
		case a.EvalStrategy == "steps" && a.SaveSteps > 0 && a.EffectiveEvalSteps() > 0 && a.SaveSteps%a.EffectiveEvalSteps() != 0:
			bad("save_steps", a.SaveSteps, "must be a multiple of eval_steps (%d) with load_best_model_at_end, so that the best checkpoint is saved", a.EffectiveEvalSteps())
		}
	}
	if a.EarlyStoppingPatience < 0 {
		bad("early_stopping_patience", a.EarlyStoppingPatience, "must be >= 0 (0 turns early stopping off)")
	} else if a.EarlyStoppingPatience > 0 && a.EvalStrategy == "no" {
		bad("early_stopping_patience", a.EarlyStoppingPatience, "needs evaluations: set eval_strategy to steps or epoch (or set early_stopping_patience to 0)")
	}
	if !(a.EarlyStoppingThreshold >= 0 && finite(a.EarlyStoppingThreshold)) {
		bad("early_stopping_threshold", a.EarlyStoppingThreshold, "must be a finite number >= 0")
	}

	// Labels and losses.
	if !(a.MLMProbability > 0 && a.MLMProbability < 1) {
		bad("mlm_probability", a.MLMProbability, "must be in (0, 1) (run_mlm.py's default is 0.15)")
	}
	if !(a.LabelSmoothingFactor >= 0 && a.LabelSmoothingFactor < 1) {
		bad("label_smoothing_factor", a.LabelSmoothingFactor, "must be in [0, 1) (0 turns smoothing off)")
	}
	for _, n := range a.LabelNames {
		if !slices.Contains(argLabelNameSet, n) {
			bad("label_names", a.LabelNames, "entry %q is not supported: kiln's batches name their label fields themselves; use %s or leave label_names out", n, strings.Join(argLabelNameSet, ", "))
			break
		}
	}
	checkWeights := func(key string, w []float64) {
		positive := false
		for i, x := range w {
			if !(x >= 0 && finite(x)) {
				bad(key, w, "entry %d (%v) must be a finite number >= 0", i, x)
				return
			}
			positive = positive || x > 0
		}
		if len(w) > 0 && !positive {
			bad(key, w, "at least one weight must be > 0 (or leave %s out)", key)
		}
	}
	checkWeights("class_weights", a.ClassWeights)
	checkWeights("pos_weight", a.PosWeight)
	for _, name := range argSortedKeys(a.LossParams) {
		if x := a.LossParams[name]; name == "" || !finite(x) {
			bad("loss_params", a.LossParams, "entry %q = %v must have a name and a finite value", name, x)
			break
		}
	}
	if a.MaxNonFinite < 1 {
		bad("max_non_finite", a.MaxNonFinite, "must be at least 1 (the number of non-finite steps in a row that stops training)")
	}

	// Reporting.
	for _, r := range a.ReportTo {
		if !slices.Contains(argReportToValues, r) {
			bad("report_to", a.ReportTo, "entry %q is not supported: use none, tensorboard or all (= tensorboard); nothing leaves the machine, so wandb, mlflow and other online services are not supported (log.jsonl and trainer_state.json are always written)", r)
			break
		}
	}
	if slices.Contains(a.ReportTo, "none") && len(a.ReportTo) > 1 {
		bad("report_to", a.ReportTo, "\"none\" cannot be combined with other entries; give none alone, or the integrations alone")
	}

	return errors.Join(errs...)
}

// showArgValue formats a value in Validate's messages: strings quoted, lists in
// brackets.
func showArgValue(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case []float64:
		return fmt.Sprint(v)
	case map[string]float64:
		parts := make([]string, 0, len(v))
		for _, k := range argSortedKeys(v) {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// argSortedKeys returns a map's keys in order.
func argSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// EffectiveEvalSteps is the number of optimizer steps between evaluations
// with eval_strategy = steps: eval_steps, or logging_steps when eval_steps
// is 0 (as Hugging Face).
func (a Args) EffectiveEvalSteps() int {
	if a.EvalSteps > 0 {
		return a.EvalSteps
	}
	return a.LoggingSteps
}

// BestMetricKey is the key of the metric that decides the best checkpoint,
// as it appears in evaluation results: metric_for_best_model with the
// "eval_" prefix added when missing, "eval_loss" when unset.
func (a Args) BestMetricKey() string {
	m := a.MetricForBestModel
	if m == "" {
		m = "loss"
	}
	if !strings.HasPrefix(m, "eval_") {
		m = "eval_" + m
	}
	return m
}

// GreaterBetter tells whether a larger best-model metric is better:
// greater_is_better when given, else false for metrics whose name ends in
// "loss" and true otherwise (Hugging Face's rule).
func (a Args) GreaterBetter() bool {
	if a.GreaterIsBetter != nil {
		return *a.GreaterIsBetter
	}
	return !strings.HasSuffix(a.BestMetricKey(), "loss")
}

// TracksBest tells whether the trainer follows the best checkpoint by
// BestMetricKey (and keeps it out of save_total_limit's deletions):
// load_best_model_at_end, early stopping (early_stopping_patience > 0 turns
// tracking on by itself) or an explicit metric_for_best_model.
func (a Args) TracksBest() bool {
	return a.LoadBestModelAtEnd || a.EarlyStoppingPatience > 0 || a.MetricForBestModel != ""
}

// DataSeedValue is the seed of the data order: data_seed when set, else
// seed.
func (a Args) DataSeedValue() int64 {
	if a.DataSeed != nil {
		return *a.DataSeed
	}
	return a.Seed
}

// SaveFinal tells whether the final model is written to output_dir:
// save_final_model when set, else true.
func (a Args) SaveFinal() bool {
	return a.SaveFinalModel == nil || *a.SaveFinalModel
}

// TensorBoard tells whether TensorBoard event files are written: report_to
// holds "tensorboard" or "all" (all the integrations kiln has).
func (a Args) TensorBoard() bool {
	return slices.Contains(a.ReportTo, "tensorboard") || slices.Contains(a.ReportTo, "all")
}
