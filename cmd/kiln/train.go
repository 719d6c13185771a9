package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/dist"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tokenizer"
	"github.com/kiln-ml/kiln/trainer"
)

const trainUsage = "usage: kiln train --model DIR --task TASK --train_file FILE [--validation_file FILE] [--config FILE.yaml|json] [--output_dir DIR] [--<training argument> VALUE ...]"
const evalUsage = "usage: kiln eval --model DIR [--task TASK] --validation_file FILE [--output_dir DIR] [--per_device_eval_batch_size N]"

// runOpts are the flags of train and eval besides the training arguments.
type runOpts struct {
	model, task, trainFile, evalFile, testFile, config, init string
	textCol, pairCol, labelCol, tokensCol                    string
	maxLength, blockSize                                     int
	explain                                                  bool
}

// parseRunFlags parses the flags of train and eval: kiln's own, then the
// training arguments (defaults < config file < flags).
func parseRunFlags(name, usage string, args []string, stdout io.Writer) (runOpts, trainer.Args, []string, bool, error) {
	var o runOpts
	fs := flag.NewFlagSet("kiln "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.model, "model", "", "model `DIR`: config.json, weights (unless --init random) and tokenizer files")
	fs.StringVar(&o.task, "task", "", "`TASK`: "+taskNames()+" (default: from config.json's architectures)")
	fs.StringVar(&o.trainFile, "train_file", "", "training data `FILE` (.csv, .tsv, .jsonl, .json)")
	fs.StringVar(&o.evalFile, "validation_file", "", "evaluation data `FILE`")
	fs.StringVar(&o.testFile, "test_file", "", "data `FILE` to predict after training: predict_results.txt (index<TAB>prediction) and test metrics when it has labels")
	fs.StringVar(&o.config, "config", "", "training arguments `FILE` (.yaml, .yml or .json; HF TrainingArguments keys); flags win over it")
	fs.StringVar(&o.init, "init", "pretrained", "`pretrained` (load the model's weights) or random (train from scratch with config.json)")
	fs.StringVar(&o.textCol, "text_column", "", "text field (default text)")
	fs.StringVar(&o.pairCol, "text_pair_column", "", "second text field of sentence pairs")
	fs.StringVar(&o.labelCol, "label_column", "", "label field (default label; ner_tags for token classification)")
	fs.StringVar(&o.tokensCol, "tokens_column", "", "word list field for token classification (default tokens)")
	fs.IntVar(&o.maxLength, "max_length", 0, "truncate inputs to `N` tokens (default: the model's maximum)")
	fs.IntVar(&o.blockSize, "block_size", 0, "language-modelling block length `N` (default 128, at most the model's maximum)")
	fs.BoolVar(&o.explain, "explain", false, "print the task -> loss decision and the resolved configuration, then exit")
	af := trainer.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			af.PrintDefaults(stdout)
			return o, trainer.Args{}, nil, true, nil
		}
		return o, trainer.Args{}, nil, false, usagef("%s", flagError(err))
	}
	if fs.NArg() > 0 {
		return o, trainer.Args{}, nil, false, usagef("unexpected argument %q", fs.Arg(0))
	}
	a := trainer.DefaultArgs()
	var warns []string
	if o.config != "" {
		var err error
		if a, warns, err = trainer.LoadArgs(o.config); err != nil {
			return o, a, nil, false, usagef("flag --config: %v", err)
		}
	}
	w, err := af.Apply(&a)
	if err != nil {
		return o, a, nil, false, usagef("%v", err)
	}
	warns = append(warns, w...)
	if o.model == "" {
		return o, a, nil, false, usagef("flag --model is required: a directory with config.json and the tokenizer files")
	}
	if o.init != "pretrained" && o.init != "random" {
		return o, a, nil, false, usagef("flag --init: %q is neither pretrained nor random", o.init)
	}
	if o.maxLength < 0 || o.blockSize < 0 {
		return o, a, nil, false, usagef("flags --max_length and --block_size must not be negative")
	}
	return o, a, warns, false, nil
}

func taskNames() string {
	var n []string
	for _, t := range trainer.Tasks {
		n = append(n, t.Name)
	}
	return strings.Join(n, ", ")
}

// resolveTask picks the task from --task or from config.json.
func resolveTask(o runOpts) (trainer.TaskInfo, error) {
	if o.task != "" {
		ti, err := trainer.LookupTask(o.task)
		if err != nil {
			return ti, usagef("flag --task: %v", err)
		}
		return ti, nil
	}
	info, err := auto.ReadInfo(o.model)
	if err != nil {
		return trainer.TaskInfo{}, fmt.Errorf("flag --model: %w", err)
	}
	k, err := info.Kind("")
	if err != nil {
		return trainer.TaskInfo{}, usagef("flag --task is needed: %v", err)
	}
	pt := readProblemType(o.model)
	for _, t := range trainer.Tasks {
		if t.Kind == k && (k != task.SequenceClassification || string(t.ProblemType) == pt || pt == "" && t.ProblemType == task.SingleLabel) {
			return t, nil
		}
	}
	return trainer.TaskInfo{}, usagef("flag --task is needed: config.json's head %s has no task", k)
}

// readConfigLabels reads config.json's id2label and problem_type, the parts
// of the config that decide the label set before the model is built.
func readConfigLabels(dir string) (map[int]string, string) {
	var raw struct {
		ID2Label    map[string]string `json:"id2label"`
		ProblemType string            `json:"problem_type"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil || json.Unmarshal(b, &raw) != nil {
		return nil, ""
	}
	out := map[int]string{}
	for k, v := range raw.ID2Label {
		var id int
		if _, err := fmt.Sscan(k, &id); err == nil {
			out[id] = v
		}
	}
	return out, raw.ProblemType
}

func readProblemType(dir string) string { _, pt := readConfigLabels(dir); return pt }

// setup is what train and eval share: tokenizer, data and model.
type setup struct {
	tok         *tokenizer.Tokenizer
	train, eval *trainer.DataSpec
	model       auto.Model
	trainF      *data.Features
	evalF       *data.Features
	testF       *data.Features
	task        trainer.TaskInfo
	warnings    []string
}

// build loads the tokenizer, the data (labels from the training file, or
// from the model when it already has them) and the model.
func build(o runOpts, a trainer.Args, needTrain bool, stderr io.Writer) (*setup, error) {
	ti, err := resolveTask(o)
	if err != nil {
		return nil, err
	}
	s := &setup{task: ti}
	if s.tok, err = tokenizer.Load(o.model); err != nil {
		return nil, fmt.Errorf("flag --model: tokenizer: %w", err)
	}
	cfg := data.Config{TextField: o.textCol, PairField: o.pairCol, LabelField: o.labelCol, TokensField: o.tokensCol,
		MaxLength: o.maxLength, BlockSize: o.blockSize}
	id2label, _ := readConfigLabels(o.model)
	var labels []string
	rebuild := false
	if needTrain {
		if o.trainFile == "" {
			return nil, usagef("flag --train_file is required")
		}
		s.trainF, err = trainer.LoadData(trainer.DataSpec{File: o.trainFile, Task: ti, Config: cfg}, s.tok)
		if err != nil {
			return nil, err
		}
		labels, rebuild = trainer.ModelLabels(id2label, s.trainF.Labels)
		if s.trainF.Labels != nil && !rebuild && !sameNames(labels, s.trainF.Labels.Names()) {
			// The model's own label order wins: preprocess again with it.
			ls, _ := data.NewLabelSet(labels...)
			cfg.Labels = ls
			if s.trainF, err = trainer.LoadData(trainer.DataSpec{File: o.trainFile, Task: ti, Config: cfg}, s.tok); err != nil {
				return nil, err
			}
		}
		if s.trainF.Labels != nil {
			cfg.Labels = s.trainF.Labels
		}
	} else if ti.Data == data.Classification || ti.Data == data.MultiLabel || ti.Data == data.TokenClassification {
		ids := make([]int, 0, len(id2label))
		for id := range id2label {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for _, id := range ids {
			labels = append(labels, id2label[id])
		}
		ls, err := data.NewLabelSet(labels...)
		if err != nil {
			return nil, fmt.Errorf("flag --model: config.json's id2label: %w", err)
		}
		cfg.Labels = ls
	}
	if o.evalFile != "" {
		if s.evalF, err = trainer.LoadData(trainer.DataSpec{File: o.evalFile, Task: ti, Config: cfg}, s.tok); err != nil {
			return nil, err
		}
	}
	if o.testFile != "" {
		if s.testF, err = trainer.LoadData(trainer.DataSpec{File: o.testFile, Task: ti, Config: cfg}, s.tok); err != nil {
			return nil, err
		}
	}
	mo := auto.Options{Kind: ti.Kind, Seed: uint64(a.Seed), RandomInit: o.init == "random"}
	if ti.Kind == task.SequenceClassification {
		mo.ProblemType = string(ti.ProblemType)
		if ti.Data == data.Regression {
			labels, rebuild = []string{"LABEL_0"}, len(id2label) != 1
		}
	}
	if rebuild {
		mo.Labels = labels
	}
	model, rep, err := auto.LoadWith(o.model, mo)
	if err != nil {
		return nil, fmt.Errorf("flag --model: %w", err)
	}
	if len(rep.Missing) > 0 && o.init != "random" {
		fmt.Fprintf(stderr, "kiln: %d weights are new (not in the checkpoint) and were initialised at random: %s\n", len(rep.Missing), shortList(rep.Missing))
	}
	if len(rep.Mismatched) > 0 {
		fmt.Fprintf(stderr, "kiln: the checkpoint's head has another size and was replaced for %d labels (%s)\n", len(labels), strings.Join(labels, ", "))
	}
	s.model = model
	return s, nil
}

func sameNames(a, b []string) bool {
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

// runTrain handles `kiln train`.
func runTrain(args []string, stdout, stderr io.Writer) error {
	o, a, warns, help, err := parseRunFlags("train", trainUsage, args, stdout)
	if help || err != nil {
		return err
	}
	for _, w := range warns {
		fmt.Fprintf(stderr, "kiln train: warning: %s\n", w)
	}
	if err := a.Validate(); err != nil {
		return usagef("%v", err)
	}
	comm := dist.Local()
	if dist.Launched() {
		if comm, err = dist.Init(); err != nil {
			return err
		}
		defer comm.Close()
	}
	s, err := build(o, a, true, stderr)
	if err != nil {
		return err
	}
	tr, err := trainer.New(a, s.model, s.tok, s.trainF, s.evalF)
	if err != nil {
		return err
	}
	tr.TokenizerDir, tr.Comm, tr.Out = o.model, comm, stderr
	if o.explain {
		return explain(stdout, tr, s)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := tr.Train(ctx)
	if err != nil {
		if comm.Size() > 1 && !errors.Is(err, trainer.ErrInterrupted) {
			// One rank failing stops every rank: the others would wait in
			// the next collective forever.
			fmt.Fprintf(stderr, "kiln train: rank %d: %v\nkiln train: aborting all %d ranks\n", comm.Rank(), err, comm.Size())
			comm.Abort(1)
		}
		return err
	}
	if comm.Rank() != 0 {
		return nil
	}
	printMetrics(stdout, "train", res.Metrics)
	if tr.EvalData != nil {
		m, at := tr.LastEval()
		if m == nil || at != res.GlobalStep || a.LoadBestModelAtEnd {
			// No evaluation of the final (or best) model yet.
			if m, err = tr.Evaluate(); err != nil {
				return err
			}
		}
		printMetrics(stdout, "eval", m)
	}
	if s.testF != nil {
		preds, m, err := tr.Predict(s.testF)
		if err != nil {
			return err
		}
		path := filepath.Join(a.OutputDir, "predict_results.txt")
		if err := trainer.WritePredictions(path, preds, s.task.Data == data.Regression); err != nil {
			return err
		}
		if len(m) > 0 {
			printMetrics(stdout, "test", m)
		}
		fmt.Fprintf(stdout, "%d predictions in %s\n", len(preds), path)
	}
	fmt.Fprintf(stdout, "model, checkpoints and logs in %s\n", a.OutputDir)
	return nil
}

// runEval handles `kiln eval`: the metrics of a model on a labelled file.
func runEval(args []string, stdout, stderr io.Writer) error {
	o, a, warns, help, err := parseRunFlags("eval", evalUsage, args, stdout)
	if help || err != nil {
		return err
	}
	for _, w := range warns {
		fmt.Fprintf(stderr, "kiln eval: warning: %s\n", w)
	}
	if o.evalFile == "" {
		return usagef("flag --validation_file is required")
	}
	if err := a.Validate(); err != nil {
		return usagef("%v", err)
	}
	s, err := build(o, a, false, stderr)
	if err != nil {
		return err
	}
	tr, err := trainer.New(a, s.model, s.tok, s.evalF, s.evalF)
	if err != nil {
		return err
	}
	tr.Out = stderr
	if o.explain {
		return explain(stdout, tr, s)
	}
	m, err := tr.Evaluate()
	if err != nil {
		return err
	}
	printMetrics(stdout, "eval", m)
	if a.OutputDir != trainer.DefaultArgs().OutputDir {
		if err := os.MkdirAll(a.OutputDir, 0o755); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		path := filepath.Join(a.OutputDir, "eval_results.json")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	return nil
}

// explain prints the task -> loss decision and the resolved configuration.
func explain(w io.Writer, tr *trainer.Trainer, s *setup) error {
	fmt.Fprintf(w, "task: %s (head %s, data %s)\n", s.task.Name, s.task.Kind, s.task.Data)
	fmt.Fprintf(w, "loss: %s\n", tr.Explain())
	if s.trainF != nil && s.trainF.Labels != nil {
		fmt.Fprintf(w, "labels (%d): %s\n", s.trainF.Labels.Len(), strings.Join(s.trainF.Labels.Names(), ", "))
	}
	fmt.Fprintln(w, "configuration:")
	b, err := json.MarshalIndent(tr.Args, "  ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  %s\n", b)
	return nil
}

// printMetrics prints HF's "***** eval metrics *****" table.
func printMetrics(w io.Writer, split string, m map[string]float64) {
	fmt.Fprintf(w, "***** %s metrics *****\n", split)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t= %.4g\n", k, m[k])
	}
	tw.Flush()
}
