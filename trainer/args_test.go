package trainer

import (
	"bytes"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func argPtr[T any](v T) *T { return &v }

// wantFullArgs is what testdata/args/full.{yaml,json} hold.
func wantFullArgs() Args {
	a := DefaultArgs()
	a.OutputDir = "out/sst2"
	a.NumTrainEpochs = 2.5
	a.PerDeviceTrainBatchSize = 16
	a.GradientAccumulationSteps = 2
	a.LearningRate = 3e-5
	a.WeightDecay = 0.01
	a.LRSchedulerType = "cosine"
	a.WarmupRatio = 0.1
	a.LoggingSteps = 50
	a.EvalStrategy = "steps"
	a.EvalSteps = 100
	a.SaveStrategy = "steps"
	a.SaveSteps = 200
	a.SaveTotalLimit = 2
	a.LoadBestModelAtEnd = true
	a.MetricForBestModel = "accuracy"
	a.GreaterIsBetter = argPtr(true)
	a.Seed = 7
	a.DataSeed = argPtr(int64(0))
	a.SaveFinalModel = argPtr(false)
	a.ReportTo = []string{"tensorboard"}
	a.LabelNames = []string{"labels"}
	a.Loss = "focal"
	a.LossParams = map[string]float64{"gamma": 2, "alpha": 0.25}
	a.ClassWeights = []float64{1, 2.5}
	a.EarlyStoppingPatience = 3
	return a
}

func TestLoadArgsYAMLAndJSON(t *testing.T) {
	for _, name := range []string{"full.yaml", "full.json"} {
		t.Run(name, func(t *testing.T) {
			a, warns, err := LoadArgs(filepath.Join("testdata", "args", name))
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) > 0 {
				t.Errorf("warnings: %q", warns)
			}
			if want := wantFullArgs(); !reflect.DeepEqual(a, want) {
				t.Errorf("got  %+v\nwant %+v", a, want)
			}
			if err := a.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestLoadArgsNullKeepsDefault(t *testing.T) {
	a, _, err := LoadArgs(filepath.Join("testdata", "args", "hf_nulls.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultArgs()
	want.OutputDir = "hf_out"
	want.EvalStrategy = "epoch"
	want.ReportTo = []string{"none"}
	want.LearningRate = 2e-5
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got  %+v\nwant %+v", a, want)
	}
}

func TestLoadArgsFileErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"unknown_key.yaml", []string{"unknown_key.yaml:4: ", `unknown argument "learnig_rate"`, "did you mean learning_rate?"}},
		{"unknown_key.json", []string{"unknown_key.json:4: ", `unknown argument "num_train_epoch"`, "did you mean num_train_epochs?"}},
		{"alias_conflict.json", []string{"alias_conflict.json:3: ", "eval_strategy (line 2) and evaluation_strategy (line 3) are the same argument; keep only eval_strategy"}},
		{"missing.yaml", []string{"missing.yaml", "no such file"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, _, err := LoadArgs(filepath.Join("testdata", "args", tc.file))
			wantArgErr(t, err, tc.want...)
		})
	}
}

func TestLoadArgsAlias(t *testing.T) {
	a, warns, err := LoadArgs(filepath.Join("testdata", "args", "alias.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if a.EvalStrategy != "epoch" {
		t.Errorf("eval_strategy = %q, want epoch", a.EvalStrategy)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "alias.yaml:2: evaluation_strategy is the old name of eval_strategy") {
		t.Errorf("warnings = %q", warns)
	}
}

// wantArgErr checks that err's text contains every part.
func wantArgErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// TestDecodeArgsErrors runs the same bad values through YAML and JSON: both
// must give the same messages (with the line of the value).
func TestArgsDecodeArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		yaml, json string
		want       []string
	}{
		{"string for float", "learning_rate: \"3e-5\"", `{"learning_rate": "3e-5"}`,
			[]string{":1: learning_rate: cannot use \"3e-5\" (a string): want a number"}},
		{"word for float", "learning_rate: fast", `{"learning_rate": "fast"}`,
			[]string{":1: learning_rate: cannot use \"fast\" (a string): want a number"}},
		{"fraction for int", "per_device_train_batch_size: 2.5", `{"per_device_train_batch_size": 2.5}`,
			[]string{":1: per_device_train_batch_size: cannot use 2.5 (a number): want a whole number"}},
		{"number for string", "optim: 1", `{"optim": 1}`,
			[]string{":1: optim: cannot use 1 (a number): want a string (put it in quotes)"}},
		{"word for bool", "load_best_model_at_end: yes", `{"load_best_model_at_end": "yes"}`,
			[]string{":1: load_best_model_at_end: cannot use \"yes\" (a string): want true or false"}},
		{"list for int", "max_steps: [1]", `{"max_steps": [1]}`,
			[]string{":1: max_steps: cannot use a list: want a whole number"}},
		{"number in string list", "report_to: [tensorboard, 3]", `{"report_to": ["tensorboard", 3]}`,
			[]string{":1: report_to: cannot use 3 (a number): want a string"}},
		{"number for string list", "label_names: 3", `{"label_names": 3}`,
			[]string{":1: label_names: cannot use 3 (a number): want a string or a list of strings"}},
		{"string in float list", "class_weights: [1, x]", `{"class_weights": [1, "x"]}`,
			[]string{":1: class_weights: cannot use \"x\" (a string): want a number"}},
		{"null in float list", "pos_weight: [1, null]", `{"pos_weight": [1, null]}`,
			[]string{":1: pos_weight: cannot use null: want a number"}},
		{"list for map", "loss_params: [1]", `{"loss_params": [1]}`,
			[]string{":1: loss_params: cannot use a list: want a mapping of names to numbers"}},
		{"string in map", "loss_params: {gamma: big}", `{"loss_params": {"gamma": "big"}}`,
			[]string{":1: loss_params: cannot use \"big\" (a string): want a number"}},
		{"pointer type", "data_seed: x", `{"data_seed": "x"}`,
			[]string{":1: data_seed: cannot use \"x\" (a string): want a whole number"}},
		{"given twice", "seed: 1\nseed: 2", "{\"seed\": 1,\n\"seed\": 2}",
			[]string{":2: seed is given twice (lines 1 and 2); keep one"}},
		{"not a mapping", "- 1", "[1]",
			[]string{":1: the file must hold a mapping of argument names to values, not a list"}},
		{"several errors", "lr: 1\nseed: x", "{\"lr\": 1,\n\"seed\": \"x\"}",
			[]string{`:1: unknown argument "lr" (did you mean learning_rate?)`, `:2: seed: cannot use "x" (a string): want a whole number`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeArgs("c.yaml", []byte(tc.yaml))
			wantArgErr(t, err, argPrefixAll("c.yaml", tc.want)...)
			_, _, err = decodeArgs("c.json", []byte(tc.json))
			wantArgErr(t, err, argPrefixAll("c.json", tc.want)...)
		})
	}
}

func argPrefixAll(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

func TestArgsDecodeArgsSyntax(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"c.json", "{\n  \"seed\": 1,\n  \"max_steps\": ,\n}", []string{"c.json:3:", "invalid JSON"}},
		{"c.json", "{\"seed\": 1", []string{"c.json: invalid JSON: unexpected end of file"}},
		{"c.json", "{\"seed\": 1}\n{}", []string{"c.json:2: unexpected data after the top-level JSON value"}},
		{"c.yaml", "seed: 1\n  max_steps: 2\n", []string{"c.yaml:2: invalid YAML: mapping values are not allowed"}},
		{"c.yaml", "seed: [1\n", []string{"c.yaml:", "invalid YAML"}},
		{"c.yaml", "seed: 1\n---\nseed: 2\n", []string{"c.yaml: holds more than one YAML document"}},
		{"c.toml", "seed = 1", []string{"c.toml: training arguments must be a .json, .yaml or .yml file"}},
	} {
		_, _, err := decodeArgs(tc.name, []byte(tc.data))
		wantArgErr(t, err, tc.want...)
	}
}

func TestArgsDecodeArgsForms(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		check      func(Args) bool
	}{
		{"empty.yaml", "", func(a Args) bool { return reflect.DeepEqual(a, DefaultArgs()) }},
		{"comments.yaml", "# nothing\n", func(a Args) bool { return reflect.DeepEqual(a, DefaultArgs()) }},
		{"whole float.json", `{"max_steps": 1e3}`, func(a Args) bool { return a.MaxSteps == 1000 }},
		{"int for float.yaml", "learning_rate: 1", func(a Args) bool { return a.LearningRate == 1 }},
		{"big seed.json", `{"seed": 9007199254740993}`, func(a Args) bool { return a.Seed == 9007199254740993 }},
		{"report_to list.yaml", "report_to: [all]", func(a Args) bool { return a.TensorBoard() }},
		{"report_to none.json", `{"report_to": "none"}`, func(a Args) bool { return !a.TensorBoard() && slices.Equal(a.ReportTo, []string{"none"}) }},
		{"empty list.json", `{"class_weights": []}`, func(a Args) bool { return a.ClassWeights != nil && len(a.ClassWeights) == 0 }},
		{"anchor.yaml", "eval_steps: &n 50\nsave_steps: *n", func(a Args) bool { return a.EvalSteps == 50 && a.SaveSteps == 50 }},
		{"bool case.yaml", "disable_tqdm: True", func(a Args) bool { return a.DisableTqdm }},
		{"no is a string.yaml", "eval_strategy: no", func(a Args) bool { return a.EvalStrategy == "no" }},
		{"yml.yml", "seed: 3", func(a Args) bool { return a.Seed == 3 }},
	} {
		a, _, err := decodeArgs(tc.name, []byte(tc.data))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.check(a) {
			t.Errorf("%s: unexpected result %+v", tc.name, a)
		}
	}
}

func TestArgsSuggestKey(t *testing.T) {
	for in, want := range map[string]string{
		"learnig_rate":             "learning_rate",
		"learning-rate":            "learning_rate",
		"Learning_Rate":            "learning_rate",
		"lr":                       "learning_rate",
		"epochs":                   "num_train_epochs",
		"per_gpu_train_batch_size": "per_device_train_batch_size",
		"eval_step":                "eval_steps",
		"patience":                 "early_stopping_patience",
		"epsilon":                  "adam_epsilon",
		"fp16":                     "",
		"push_to_hub":              "",
	} {
		if got := suggestArgKey(in); got != want {
			t.Errorf("suggestArgKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestArgsValidateDefaults(t *testing.T) {
	if err := DefaultArgs().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestArgsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Args)
		want string // the whole message must appear in the error
	}{
		{"output_dir", func(a *Args) { a.OutputDir = "" }, `output_dir = "": must name the directory`},
		{"max_steps 0", func(a *Args) { a.MaxSteps = 0 }, "max_steps = 0: must be a positive number of optimizer steps, or -1 to train for num_train_epochs"},
		{"max_steps -2", func(a *Args) { a.MaxSteps = -2 }, "max_steps = -2: must be a positive"},
		{"epochs 0", func(a *Args) { a.NumTrainEpochs = 0 }, "num_train_epochs = 0: must be a positive, finite number of epochs (fractions allowed), or set max_steps > 0"},
		{"epochs inf", func(a *Args) { a.NumTrainEpochs = math.Inf(1); a.MaxSteps = 10 }, "num_train_epochs = +Inf: must be finite"},
		{"train batch", func(a *Args) { a.PerDeviceTrainBatchSize = 0 }, "per_device_train_batch_size = 0: must be at least 1"},
		{"eval batch", func(a *Args) { a.PerDeviceEvalBatchSize = -1 }, "per_device_eval_batch_size = -1: must be at least 1"},
		{"accumulation", func(a *Args) { a.GradientAccumulationSteps = 0 }, "gradient_accumulation_steps = 0: must be at least 1"},
		{"optim", func(a *Args) { a.Optim = "adamw_torch" }, `optim = "adamw_torch": must be one of adamw, sgd (Hugging Face's adamw_torch is called adamw here)`},
		{"optim lion", func(a *Args) { a.Optim = "lion" }, `optim = "lion": must be one of adamw, sgd`},
		{"lr negative", func(a *Args) { a.LearningRate = -1 }, "learning_rate = -1: must be a positive, finite number"},
		{"lr nan", func(a *Args) { a.LearningRate = math.NaN() }, "learning_rate = NaN: must be a positive, finite number"},
		{"lr polynomial", func(a *Args) { a.LRSchedulerType = "polynomial"; a.LearningRate = 1e-8 }, "learning_rate = 1e-08: must be above 1e-07 with lr_scheduler_type = polynomial"},
		{"weight decay", func(a *Args) { a.WeightDecay = -0.1 }, "weight_decay = -0.1: must be a finite number >= 0"},
		{"beta1", func(a *Args) { a.AdamBeta1 = 1 }, "adam_beta1 = 1: must be in [0, 1)"},
		{"beta2", func(a *Args) { a.AdamBeta2 = -0.5 }, "adam_beta2 = -0.5: must be in [0, 1)"},
		{"epsilon", func(a *Args) { a.AdamEpsilon = 0 }, "adam_epsilon = 0: must be a positive, finite number"},
		{"grad norm", func(a *Args) { a.MaxGradNorm = -1 }, "max_grad_norm = -1: must be a finite number >= 0 (0 turns clipping off)"},
		{"scheduler", func(a *Args) { a.LRSchedulerType = "cosin" }, `lr_scheduler_type = "cosin": must be one of linear, cosine, cosine_with_restarts, polynomial, constant, constant_with_warmup, inverse_sqrt`},
		{"warmup ratio", func(a *Args) { a.WarmupRatio = 1.5 }, "warmup_ratio = 1.5: must be in [0, 1]"},
		{"warmup steps", func(a *Args) { a.WarmupSteps = -1 }, "warmup_steps = -1: must be >= 0"},
		{"logging steps", func(a *Args) { a.LoggingSteps = 0 }, "logging_steps = 0: must be a whole number of steps >= 1 (Hugging Face's fractions of the training steps are not supported)"},
		{"eval strategy", func(a *Args) { a.EvalStrategy = "step" }, `eval_strategy = "step": must be one of no, steps, epoch`},
		{"eval steps", func(a *Args) { a.EvalSteps = -5 }, "eval_steps = -5: must be >= 0"},
		{"save strategy best", func(a *Args) { a.SaveStrategy = "best" }, `save_strategy = "best": must be one of no, steps, epoch (Hugging Face's "best" is not supported`},
		{"save steps", func(a *Args) { a.SaveSteps = 0 }, "save_steps = 0: must be at least 1 with save_strategy = steps"},
		{"save total limit", func(a *Args) { a.SaveTotalLimit = -1 }, "save_total_limit = -1: must be >= 0 (0 keeps every checkpoint)"},
		{"best without eval", func(a *Args) { a.LoadBestModelAtEnd = true }, "load_best_model_at_end = true: needs evaluations: set eval_strategy to steps or epoch"},
		{"best strategies differ", func(a *Args) { a.LoadBestModelAtEnd = true; a.EvalStrategy = "epoch" }, `save_strategy = "steps": must equal eval_strategy ("epoch") with load_best_model_at_end`},
		{"best steps multiple", func(a *Args) {
			a.LoadBestModelAtEnd, a.EvalStrategy, a.EvalSteps, a.SaveSteps = true, "steps", 300, 500
		}, "save_steps = 500: must be a multiple of eval_steps (300) with load_best_model_at_end"},
		{"best steps via logging_steps", func(a *Args) {
			a.LoadBestModelAtEnd, a.EvalStrategy, a.LoggingSteps, a.SaveSteps = true, "steps", 30, 100
		}, "save_steps = 100: must be a multiple of eval_steps (30)"},
		{"patience without eval", func(a *Args) { a.EarlyStoppingPatience = 2 }, "early_stopping_patience = 2: needs evaluations: set eval_strategy to steps or epoch"},
		{"patience negative", func(a *Args) { a.EarlyStoppingPatience = -1 }, "early_stopping_patience = -1: must be >= 0"},
		{"threshold", func(a *Args) { a.EarlyStoppingThreshold = -0.1 }, "early_stopping_threshold = -0.1: must be a finite number >= 0"},
		{"smoothing", func(a *Args) { a.LabelSmoothingFactor = 1 }, "label_smoothing_factor = 1: must be in [0, 1)"},
		{"mlm probability 0", func(a *Args) { a.MLMProbability = 0 }, "mlm_probability = 0: must be in (0, 1)"},
		{"mlm probability 1", func(a *Args) { a.MLMProbability = 1 }, "mlm_probability = 1: must be in (0, 1)"},
		{"label names", func(a *Args) { a.LabelNames = []string{"labels", "label"} }, `label_names = ["labels", "label"]: entry "label" is not supported`},
		{"report_to wandb", func(a *Args) { a.ReportTo = []string{"wandb"} }, `report_to = ["wandb"]: entry "wandb" is not supported: use none, tensorboard or all (= tensorboard); nothing leaves the machine`},
		{"report_to none+", func(a *Args) { a.ReportTo = []string{"none", "tensorboard"} }, `report_to = ["none", "tensorboard"]: "none" cannot be combined with other entries`},
		{"class weights negative", func(a *Args) { a.ClassWeights = []float64{1, -2} }, "class_weights = [1 -2]: entry 1 (-2) must be a finite number >= 0"},
		{"class weights zero", func(a *Args) { a.ClassWeights = []float64{0, 0} }, "class_weights = [0 0]: at least one weight must be > 0"},
		{"pos weight inf", func(a *Args) { a.PosWeight = []float64{math.Inf(1)} }, "pos_weight = [+Inf]: entry 0 (+Inf) must be a finite number >= 0"},
		{"loss params nan", func(a *Args) { a.LossParams = map[string]float64{"gamma": math.NaN()} }, `loss_params = {gamma=NaN}: entry "gamma" = NaN must have a name and a finite value`},
		{"max non finite", func(a *Args) { a.MaxNonFinite = 0 }, "max_non_finite = 0: must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := DefaultArgs()
			tc.edit(&a)
			wantArgErr(t, a.Validate(), tc.want)
		})
	}
}

func TestArgsValidateReportsAll(t *testing.T) {
	a := DefaultArgs()
	a.LearningRate, a.PerDeviceTrainBatchSize = 0, 0
	err := a.Validate()
	wantArgErr(t, err, "learning_rate = 0:", "per_device_train_batch_size = 0:")
	if n := strings.Count(err.Error(), "\n"); n != 1 {
		t.Errorf("want two lines, got %q", err)
	}
}

func TestArgsValidateGoodCombinations(t *testing.T) {
	for name, edit := range map[string]func(*Args){
		"best by epoch": func(a *Args) { a.LoadBestModelAtEnd, a.EvalStrategy, a.SaveStrategy = true, "epoch", "epoch" },
		"best by steps": func(a *Args) {
			a.LoadBestModelAtEnd, a.EvalStrategy, a.EvalSteps, a.SaveSteps = true, "steps", 100, 500
		},
		"patience":            func(a *Args) { a.EarlyStoppingPatience, a.EvalStrategy = 3, "epoch" },
		"max_steps no epochs": func(a *Args) { a.MaxSteps, a.NumTrainEpochs = 10, 0 },
		"sgd no save":         func(a *Args) { a.Optim, a.SaveStrategy, a.SaveSteps = "sgd", "no", 0 },
		"report all":          func(a *Args) { a.ReportTo = []string{"all"} },
		"qa labels":           func(a *Args) { a.LabelNames = []string{"start_positions", "end_positions"} },
	} {
		a := DefaultArgs()
		edit(&a)
		if err := a.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestArgsAccessors(t *testing.T) {
	a := DefaultArgs()
	if a.EffectiveEvalSteps() != 500 || a.BestMetricKey() != "eval_loss" || a.GreaterBetter() || a.TracksBest() ||
		a.DataSeedValue() != 42 || !a.SaveFinal() || a.TensorBoard() {
		t.Errorf("defaults: eval steps %d, metric %q, greater %v, tracks %v, data seed %d, save final %v, tensorboard %v",
			a.EffectiveEvalSteps(), a.BestMetricKey(), a.GreaterBetter(), a.TracksBest(), a.DataSeedValue(), a.SaveFinal(), a.TensorBoard())
	}
	a.EvalSteps = 7
	a.MetricForBestModel = "f1"
	a.DataSeed = argPtr(int64(0))
	a.SaveFinalModel = argPtr(false)
	a.ReportTo = []string{"tensorboard"}
	if a.EffectiveEvalSteps() != 7 || a.BestMetricKey() != "eval_f1" || !a.GreaterBetter() || !a.TracksBest() ||
		a.DataSeedValue() != 0 || a.SaveFinal() || !a.TensorBoard() {
		t.Errorf("set: %+v", a)
	}
	a.MetricForBestModel = "eval_nll_loss"
	if a.BestMetricKey() != "eval_nll_loss" || a.GreaterBetter() {
		t.Errorf("eval_nll_loss: key %q greater %v", a.BestMetricKey(), a.GreaterBetter())
	}
	a.GreaterIsBetter = argPtr(true)
	if !a.GreaterBetter() {
		t.Error("explicit greater_is_better ignored")
	}
	b := DefaultArgs()
	b.EarlyStoppingPatience = 1
	if !b.TracksBest() || b.BestMetricKey() != "eval_loss" {
		t.Error("early stopping must track eval_loss")
	}
}

// parseArgFlags binds the argument flags plus a CLI-style --config on a fresh
// FlagSet and parses args.
func parseArgFlags(t *testing.T, args ...string) (*ArgFlags, string, error) {
	t.Helper()
	fs := flag.NewFlagSet("kiln", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config := fs.String("config", "", "configuration file")
	af := BindFlags(fs)
	err := fs.Parse(args)
	return af, *config, err
}

func TestArgsFlagsOverrideFile(t *testing.T) {
	af, config, err := parseArgFlags(t,
		"--config", filepath.Join("testdata", "args", "full.yaml"),
		"--learning_rate", "1e-4",
		"--num-train-epochs=4",
		"-save_total_limit", "5",
		"--load_best_model_at_end=false",
		"--disable-tqdm",
		"--data_seed", "9",
		"--greater_is_better=false",
		"--report_to", "none",
		"--label-names", "start_positions, end_positions",
		"--loss_params", "gamma=3,alpha=0.5",
		"--pos_weight", "2,3",
		"--class_weights=",
	)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := LoadArgs(config)
	if err != nil {
		t.Fatal(err)
	}
	warns, err := af.Apply(&a)
	if err != nil || len(warns) > 0 {
		t.Fatal(warns, err)
	}
	want := wantFullArgs()
	want.LearningRate = 1e-4
	want.NumTrainEpochs = 4
	want.SaveTotalLimit = 5
	want.LoadBestModelAtEnd = false
	want.DisableTqdm = true
	want.DataSeed = argPtr(int64(9))
	want.GreaterIsBetter = argPtr(false)
	want.ReportTo = []string{"none"}
	want.LabelNames = []string{"start_positions", "end_positions"}
	want.LossParams = map[string]float64{"gamma": 3, "alpha": 0.5}
	want.PosWeight = []float64{2, 3}
	want.ClassWeights = []float64{}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got  %+v\nwant %+v", a, want)
	}
}

func TestArgsFlagsOnlyGivenApplied(t *testing.T) {
	af, _, err := parseArgFlags(t, "--seed", "1", "--seed=2")
	if err != nil {
		t.Fatal(err)
	}
	a := wantFullArgs()
	if _, err := af.Apply(&a); err != nil {
		t.Fatal(err)
	}
	want := wantFullArgs()
	want.Seed = 2 // the last one given
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got  %+v\nwant %+v", a, want)
	}
	// Apply's values are copies: changing one Args leaves another alone.
	af, _, _ = parseArgFlags(t, "--report_to", "tensorboard", "--data_seed", "3")
	var b, c Args
	af.Apply(&b)
	af.Apply(&c)
	b.ReportTo[0] = "x"
	*b.DataSeed = 4
	if c.ReportTo[0] != "tensorboard" || *c.DataSeed != 3 {
		t.Error("Apply shares values between Args")
	}
}

func TestArgsFlagsAlias(t *testing.T) {
	af, _, err := parseArgFlags(t, "--evaluation-strategy", "epoch")
	if err != nil {
		t.Fatal(err)
	}
	a := DefaultArgs()
	warns, err := af.Apply(&a)
	if err != nil {
		t.Fatal(err)
	}
	if a.EvalStrategy != "epoch" || len(warns) != 1 || !strings.Contains(warns[0], "--evaluation_strategy is the old name of --eval_strategy") {
		t.Errorf("eval_strategy %q, warnings %q", a.EvalStrategy, warns)
	}
	af, _, _ = parseArgFlags(t, "--evaluation_strategy", "epoch", "--eval-strategy", "steps")
	_, err = af.Apply(&a)
	wantArgErr(t, err, "--eval-strategy and --evaluation_strategy are the same argument; give only --eval_strategy")
}

func TestArgsFlagsBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--learning_rate", "fast"}, `invalid value "fast" for flag -learning_rate: "fast" is not a number`},
		{[]string{"--max-steps", "2.5"}, `invalid value "2.5" for flag -max-steps: "2.5" is not a whole number`},
		{[]string{"--load_best_model_at_end=maybe"}, `invalid boolean value "maybe" for -load_best_model_at_end`},
		{[]string{"--loss_params", "gamma"}, `"gamma" is not name=value`},
		{[]string{"--loss_params", "gamma=1,gamma=2"}, "gamma is given twice"},
		{[]string{"--class_weights", "1,x"}, `"x" is not a number`},
		{[]string{"--learnig_rate", "1"}, "flag provided but not defined: -learnig_rate"},
	} {
		_, _, err := parseArgFlags(t, tc.args...)
		wantArgErr(t, err, tc.want)
	}
}

// TestArgDocsAndFlagsCoverArgs checks, by reflection over Args, that every
// json key has yaml's same name, exactly one ArgDoc with a type and help,
// and flags in both forms, and that nothing else is documented or bound.
func TestArgDocsAndFlagsCoverArgs(t *testing.T) {
	rt := reflect.TypeFor[Args]()
	keys := map[string]bool{}
	for i := range rt.NumField() {
		f := rt.Field(i)
		key := f.Tag.Get("json")
		if key == "" || strings.Contains(key, ",") {
			t.Errorf("field %s: json tag %q must be a plain key", f.Name, key)
			continue
		}
		if y := f.Tag.Get("yaml"); y != key {
			t.Errorf("field %s: yaml tag %q differs from json tag %q", f.Name, y, key)
		}
		keys[key] = true
	}

	docs := map[string]int{}
	for _, d := range ArgDocs() {
		docs[d.Key]++
		if !keys[d.Key] {
			t.Errorf("ArgDoc %q documents no field of Args", d.Key)
		}
		if d.Type == "" || d.Help == "" {
			t.Errorf("ArgDoc %q: empty type or help: %+v", d.Key, d)
		}
	}

	fs := flag.NewFlagSet("kiln", flag.ContinueOnError)
	BindFlags(fs)
	flags := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { flags[f.Name] = true })
	for key := range keys {
		if docs[key] != 1 {
			t.Errorf("%s: %d ArgDocs, want 1", key, docs[key])
		}
		for _, name := range []string{key, strings.ReplaceAll(key, "_", "-")} {
			if !flags[name] {
				t.Errorf("%s: no flag --%s", key, name)
			}
		}
	}
	for name := range flags {
		key := strings.ReplaceAll(name, "-", "_")
		if _, alias := argAliases[key]; !keys[key] && !alias {
			t.Errorf("flag --%s sets no argument", name)
		}
	}
}

func TestArgDocsDefaults(t *testing.T) {
	got := map[string]ArgDoc{}
	for _, d := range ArgDocs() {
		got[d.Key] = d
	}
	for key, want := range map[string]ArgDoc{
		"learning_rate":     {Type: "float", Default: "5e-05"},
		"max_steps":         {Type: "int", Default: "-1"},
		"report_to":         {Type: "string list", Default: "none"},
		"loss_params":       {Type: "name=float map", Default: ""},
		"greater_is_better": {Type: "bool", Default: "by metric"},
		"data_seed":         {Type: "int", Default: "seed"},
		"output_dir":        {Type: "string", Default: "trainer_output"},
	} {
		if g := got[key]; g.Type != want.Type || g.Default != want.Default {
			t.Errorf("%s: type %q default %q, want %q %q", key, g.Type, g.Default, want.Type, want.Default)
		}
	}
}

func TestArgsPrintDefaults(t *testing.T) {
	fs := flag.NewFlagSet("kiln", flag.ContinueOnError)
	fs.String("model", "", "model directory")
	af := BindFlags(fs)
	var buf bytes.Buffer
	af.PrintDefaults(&buf)
	out := buf.String()
	for _, want := range []string{
		"  --model string\n    \tmodel directory\n",
		"  --learning_rate float\n    \tpeak learning rate (reached after warmup) (default 5e-05)\n",
		"  --load_best_model_at_end\n",
		"  --data_seed int\n    \tseeds the data order alone (default seed)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if strings.Contains(out, "--learning-rate") {
		t.Error("usage lists dash forms")
	}
}

func TestArgsSaveJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for name, a := range map[string]Args{
		"defaults": DefaultArgs(),
		"full":     wantFullArgs(),
		"edge": func() Args {
			a := wantFullArgs()
			a.Seed = math.MaxInt64
			a.LearningRate = 1.0 / 3
			a.OutputDir = "a&b <c>"
			a.ReportTo = []string{}
			a.LossParams = map[string]float64{}
			a.PosWeight = []float64{0.1, 1e-300}
			return a
		}(),
	} {
		path := filepath.Join(dir, name+".json")
		if err := a.SaveJSON(path); err != nil {
			t.Fatal(err)
		}
		b, warns, err := LoadArgs(path)
		if err != nil || len(warns) > 0 {
			t.Fatal(name, warns, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: round trip\n got  %+v\n want %+v", name, b, a)
		}
	}

	// Sorted keys, two-space indent, every argument present.
	data, err := os.ReadFile(filepath.Join(dir, "defaults.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for line := range strings.Lines(string(data)) {
		if k, _, ok := strings.Cut(strings.TrimPrefix(line, `  "`), `":`); ok && strings.HasPrefix(line, `  "`) {
			keys = append(keys, k)
		}
	}
	if !slices.IsSorted(keys) || len(keys) != reflect.TypeFor[Args]().NumField() {
		t.Errorf("keys not sorted or incomplete: %q", keys)
	}
	if !strings.Contains(string(data), "\n  \"data_seed\": null,\n") {
		t.Errorf("unset data_seed not written as null:\n%s", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestArgsSaveJSONNonFinite(t *testing.T) {
	a := DefaultArgs()
	a.LearningRate = math.Inf(1)
	path := filepath.Join(t.TempDir(), "training_args.json")
	wantArgErr(t, a.SaveJSON(path), "training_args.json", "unsupported value")
}

func TestArgsSaveJSONMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "training_args.json")
	if err := DefaultArgs().SaveJSON(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want -rw-r--r--", fi.Mode())
	}
}

// The README's configuration reference is ArgsMarkdown (regenerate with
// go run ./tools/readmeargs).
func TestArgDocsREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "<!-- args:begin -->\n"), strings.Index(s, "<!-- args:end -->")
	if i < 0 || j < i {
		t.Fatal("README.md lacks the args:begin/args:end markers")
	}
	if got := s[i+len("<!-- args:begin -->\n") : j]; got != ArgsMarkdown() {
		t.Error("README.md's configuration reference is stale: run go run ./tools/readmeargs")
	}
}
