package trainer

// Args are the training arguments, named as Hugging Face's TrainingArguments
// names them (the json/yaml key is HF's name) with HF's defaults, plus kiln's
// own options at the end. DefaultArgs gives the defaults; LoadArgs reads a
// JSON or YAML file over them (unknown keys are an error); BindFlags makes
// every argument a command-line flag that overrides the file; Validate checks
// values and combinations and names the argument to fix; SaveJSON writes
// them as training_args.json. ArgDocs documents each argument.
type Args struct {
	// OutputDir receives checkpoints, logs, plots and the final model.
	OutputDir string `json:"output_dir" yaml:"output_dir"`
	// OverwriteOutputDir allows training into a non-empty output_dir that
	// holds no checkpoint to resume from.
	OverwriteOutputDir bool `json:"overwrite_output_dir" yaml:"overwrite_output_dir"`

	// NumTrainEpochs is the number of epochs (fractions allowed, as HF);
	// MaxSteps > 0 overrides it.
	NumTrainEpochs float64 `json:"num_train_epochs" yaml:"num_train_epochs"`
	MaxSteps       int     `json:"max_steps" yaml:"max_steps"`

	PerDeviceTrainBatchSize   int `json:"per_device_train_batch_size" yaml:"per_device_train_batch_size"`
	PerDeviceEvalBatchSize    int `json:"per_device_eval_batch_size" yaml:"per_device_eval_batch_size"`
	GradientAccumulationSteps int `json:"gradient_accumulation_steps" yaml:"gradient_accumulation_steps"`

	// Optimizer: "adamw" (torch.optim.AdamW, HF's adamw_torch) or "sgd".
	Optim        string  `json:"optim" yaml:"optim"`
	LearningRate float64 `json:"learning_rate" yaml:"learning_rate"`
	WeightDecay  float64 `json:"weight_decay" yaml:"weight_decay"`
	AdamBeta1    float64 `json:"adam_beta1" yaml:"adam_beta1"`
	AdamBeta2    float64 `json:"adam_beta2" yaml:"adam_beta2"`
	AdamEpsilon  float64 `json:"adam_epsilon" yaml:"adam_epsilon"`
	// MaxGradNorm clips the global gradient norm; 0 turns clipping off.
	MaxGradNorm float64 `json:"max_grad_norm" yaml:"max_grad_norm"`

	// LRSchedulerType: linear, cosine, cosine_with_restarts, polynomial,
	// constant, constant_with_warmup, inverse_sqrt.
	LRSchedulerType string  `json:"lr_scheduler_type" yaml:"lr_scheduler_type"`
	WarmupRatio     float64 `json:"warmup_ratio" yaml:"warmup_ratio"`
	WarmupSteps     int     `json:"warmup_steps" yaml:"warmup_steps"`

	// LoggingSteps is the number of optimizer steps between log entries.
	LoggingSteps     int  `json:"logging_steps" yaml:"logging_steps"`
	LoggingFirstStep bool `json:"logging_first_step" yaml:"logging_first_step"`

	// EvalStrategy and SaveStrategy: "no", "steps" or "epoch".
	EvalStrategy string `json:"eval_strategy" yaml:"eval_strategy"`
	// EvalSteps is the number of steps between evaluations; 0 means
	// LoggingSteps (as HF).
	EvalSteps    int    `json:"eval_steps" yaml:"eval_steps"`
	SaveStrategy string `json:"save_strategy" yaml:"save_strategy"`
	SaveSteps    int    `json:"save_steps" yaml:"save_steps"`
	// SaveTotalLimit keeps the newest N checkpoints plus the best one
	// (never deleted); 0 keeps all.
	SaveTotalLimit int `json:"save_total_limit" yaml:"save_total_limit"`

	LoadBestModelAtEnd bool `json:"load_best_model_at_end" yaml:"load_best_model_at_end"`
	// MetricForBestModel names an evaluation metric with or without the
	// "eval_" prefix; default "loss" when best-model tracking is on.
	MetricForBestModel string `json:"metric_for_best_model" yaml:"metric_for_best_model"`
	// GreaterIsBetter defaults to true unless the metric is a loss.
	GreaterIsBetter *bool `json:"greater_is_better" yaml:"greater_is_better"`

	// Seed seeds model initialisation, dropout and (without DataSeed) the
	// data order.
	Seed int64 `json:"seed" yaml:"seed"`
	// DataSeed, when set, seeds the data order alone.
	DataSeed *int64 `json:"data_seed" yaml:"data_seed"`

	LabelSmoothingFactor float64 `json:"label_smoothing_factor" yaml:"label_smoothing_factor"`
	// LabelNames lists the batch fields that hold labels; kiln's batches
	// name them itself, so only the HF names (labels, start_positions,
	// end_positions) are accepted.
	LabelNames           []string `json:"label_names" yaml:"label_names"`
	DataloaderDropLast   bool     `json:"dataloader_drop_last" yaml:"dataloader_drop_last"`
	GroupByLength        bool     `json:"group_by_length" yaml:"group_by_length"`
	ResumeFromCheckpoint string   `json:"resume_from_checkpoint" yaml:"resume_from_checkpoint"`
	// IgnoreDataSkip starts a resumed epoch from its first batch.
	IgnoreDataSkip bool `json:"ignore_data_skip" yaml:"ignore_data_skip"`
	// ReportTo lists integrations: "tensorboard" or "none" (nothing leaves
	// the machine; the JSON-lines log and plots are always written).
	ReportTo []string `json:"report_to" yaml:"report_to"`
	// LoggingDir is where TensorBoard events go (default output_dir/runs).
	LoggingDir string `json:"logging_dir" yaml:"logging_dir"`
	// DisableTqdm turns the progress bar off (plain log lines instead).
	DisableTqdm bool `json:"disable_tqdm" yaml:"disable_tqdm"`

	// kiln's own options.

	// Loss names a registered loss replacing the task's default ("focal",
	// "hinge", a user's own); LossParams gives its numeric options
	// (gamma, alpha, margin, ...).
	Loss       string             `json:"loss" yaml:"loss"`
	LossParams map[string]float64 `json:"loss_params" yaml:"loss_params"`
	// ClassWeights holds one weight per class for cross-entropy (and
	// BCE/focal) heads; PosWeight is BCE's per-label positive weight.
	ClassWeights []float64 `json:"class_weights" yaml:"class_weights"`
	PosWeight    []float64 `json:"pos_weight" yaml:"pos_weight"`
	// EarlyStoppingPatience > 0 stops training after that many evaluations
	// without an improvement larger than EarlyStoppingThreshold.
	EarlyStoppingPatience  int     `json:"early_stopping_patience" yaml:"early_stopping_patience"`
	EarlyStoppingThreshold float64 `json:"early_stopping_threshold" yaml:"early_stopping_threshold"`
	// MaxNonFinite is the number of non-finite losses or gradient norms in
	// a row after which training stops with an error (each is skipped).
	MaxNonFinite int `json:"max_non_finite" yaml:"max_non_finite"`
	// MLMProbability is the share of tokens masked LM chooses to predict
	// (run_mlm.py's mlm_probability; default 0.15).
	MLMProbability float64 `json:"mlm_probability" yaml:"mlm_probability"`
	// PredictWithGenerate is not supported; PredictionLossOnly skips
	// metrics during evaluation.
	PredictionLossOnly bool `json:"prediction_loss_only" yaml:"prediction_loss_only"`
	// SaveFinalModel writes the final model to output_dir (default true).
	SaveFinalModel *bool `json:"save_final_model" yaml:"save_final_model"`
}

// DefaultArgs returns HF's defaults (kiln's where HF has none).
func DefaultArgs() Args {
	return Args{
		OutputDir:                 "trainer_output",
		NumTrainEpochs:            3,
		MaxSteps:                  -1,
		PerDeviceTrainBatchSize:   8,
		PerDeviceEvalBatchSize:    8,
		GradientAccumulationSteps: 1,
		Optim:                     "adamw",
		LearningRate:              5e-5,
		AdamBeta1:                 0.9,
		AdamBeta2:                 0.999,
		AdamEpsilon:               1e-8,
		MaxGradNorm:               1.0,
		LRSchedulerType:           "linear",
		LoggingSteps:              500,
		EvalStrategy:              "no",
		SaveStrategy:              "steps",
		SaveSteps:                 500,
		Seed:                      42,
		MaxNonFinite:              5,
		MLMProbability:            0.15,
	}
}
