package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/datasets"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tokenizer"
	"github.com/kiln-ml/kiln/trainer"
	"github.com/kiln-ml/kiln/zoo"
)

const demoUsage = "usage: kiln demo [--task sentiment|regression|multilabel|ner|qa|clm] [--output_dir DIR] [--epochs N]"

// demoSpec is one demo: a zoo model, shipped data and the training
// arguments that fit the 2-core, few-minutes budget.
type demoSpec struct {
	name, task, model string
	train, eval       string // shipped files; eval "" splits 10% off train
	cfg               data.Config
	epochs            float64
	lr                float64
	// lrRandom is the learning rate of the from-random-weights run (0: lr).
	// Each initialisation trains at the rate that is best for it on reviews
	// held out of the training file (go run ./tools/pretrain lrgrid), so
	// that a rate suiting one of the two does not decide the comparison.
	lrRandom float64
	batch    int
	metric   string // the headline metric
	// fromRandom also trains the same model from random weights, to show
	// what pretraining brings.
	fromRandom bool
}

var demos = map[string]demoSpec{
	"sentiment": {name: "sentiment", task: "text-classification", model: "kiln-bert-mini",
		train: "fine_foods_train.csv", eval: "fine_foods_test.csv",
		cfg:    data.Config{TextField: "review", LabelField: "score", MaxLength: 128},
		epochs: 2, lr: 5e-4, lrRandom: 1e-3, batch: 32, metric: "eval_accuracy", fromRandom: true},
	"regression": {name: "regression", task: "text-regression", model: "kiln-bert-mini",
		train: "sotu_paragraphs.jsonl", cfg: data.Config{LabelField: "year", MaxLength: 128},
		epochs: 4, lr: 1e-3, batch: 32, metric: "eval_pearson", fromRandom: true},
	"multilabel": {name: "multilabel", task: "multi-label-classification", model: "kiln-bert-mini",
		train: "multilabel_train.jsonl", eval: "multilabel_validation.jsonl",
		cfg: data.Config{LabelField: "labels"}, epochs: 8, lr: 1e-3, batch: 16, metric: "eval_f1_micro"},
	"ner": {name: "ner", task: "token-classification", model: "kiln-bert-mini",
		train: "ner_train.jsonl", eval: "ner_validation.jsonl",
		epochs: 6, lr: 1e-3, batch: 16, metric: "eval_overall_f1", fromRandom: true},
	"qa": {name: "qa", task: "question-answering", model: "kiln-bert-mini",
		train: "qa_train.json", eval: "qa_validation.json", cfg: data.Config{MaxLength: 128, Stride: 32},
		epochs: 10, lr: 1e-3, batch: 16, metric: "eval_f1", fromRandom: true},
	"clm": {name: "clm", task: "causal-lm", model: "kiln-gpt2-mini",
		train: "austen.jsonl", epochs: 2, lr: 5e-4, batch: 16, metric: "eval_perplexity", fromRandom: true},
}

// runDemo handles `kiln demo`: fine-tune kiln's own pretrained model on
// shipped data with the loss chosen from the task, next to baselines.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kiln demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("task", "sentiment", "`DEMO`: sentiment (fine-food reviews), regression (State of the Union year), multilabel, ner, qa, clm (Jane Austen)")
	out := fs.String("output_dir", "kiln-demo", "`DIR` for the run directories")
	epochs := fs.Float64("epochs", 0, "training epochs `N` (default: the demo's own)")
	if help, err := parseFlags(fs, args, demoUsage, stdout); help || err != nil {
		return err
	}
	d, ok := demos[*name]
	if !ok {
		return usagef("flag --task: no demo %q (sentiment, regression, multilabel, ner, qa, clm)", *name)
	}
	if *epochs < 0 {
		return usagef("flag --epochs: %v is negative", *epochs)
	}
	if *epochs > 0 {
		d.epochs = *epochs
	}
	start := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	modelDir, err := extractModel(d.model)
	if err != nil {
		return err
	}
	ti, err := trainer.LookupTask(d.task)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(modelDir)
	if err != nil {
		return err
	}
	train, eval, err := demoData(d, ti, tok)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kiln demo %s: %s on shipped data (%d training, %d evaluation examples), model %s (kiln's own, pretrained)\n",
		d.name, d.task, len(train.Examples), len(eval.Examples), d.model)

	type result struct {
		Run     string             `json:"run"`
		Metrics map[string]float64 `json:"metrics"`
		Seconds float64            `json:"seconds"`
		Dir     string             `json:"dir,omitempty"`
	}
	var results []result
	if b, ok := baseline(d, train, eval); ok {
		results = append(results, result{Run: b.name, Metrics: b.metrics})
	}
	runs := []struct {
		label  string
		random bool
	}{{"fine-tuned from kiln-pretrained weights", false}}
	if d.fromRandom {
		runs = append(runs, struct {
			label  string
			random bool
		}{"same model trained from random weights", true})
	}
	for i, r := range runs {
		dir := filepath.Join(*out, d.name, map[bool]string{false: "from-pretrained", true: "from-random"}[r.random])
		mo := auto.Options{Kind: ti.Kind, Seed: 42, RandomInit: r.random, ProblemType: string(ti.ProblemType)}
		if train.Labels != nil {
			mo.Labels = train.Labels.Names()
		} else if ti.ProblemType == "regression" {
			mo.Labels = []string{"LABEL_0"}
		}
		model, _, err := auto.LoadWith(modelDir, mo)
		if err != nil {
			return err
		}
		a := trainer.DefaultArgs()
		a.OutputDir, a.OverwriteOutputDir = dir, true
		lr := d.lr
		if r.random && d.lrRandom > 0 {
			lr = d.lrRandom
		}
		a.NumTrainEpochs, a.LearningRate, a.WarmupRatio, a.WeightDecay = d.epochs, lr, 0.1, 0.01
		a.PerDeviceTrainBatchSize, a.PerDeviceEvalBatchSize = d.batch, 64
		a.EvalStrategy, a.SaveStrategy, a.SaveTotalLimit = "epoch", "epoch", 1
		a.LoggingSteps = 20
		tr, err := trainer.New(a, model, tok, train, eval)
		if err != nil {
			return err
		}
		tr.TokenizerDir, tr.Out = modelDir, stderr
		fmt.Fprintf(stdout, "\n[%d/%d] %s (learning rate %g, %g epochs)\n", i+1, len(runs), r.label, lr, d.epochs)
		if i == 0 {
			fmt.Fprintf(stdout, "loss, chosen from the task: %s\n", tr.Explain())
		}
		if i == 0 && ti.Kind == task.CausalLM {
			// The pretrained LM head scores text as it is: its perplexity
			// before fine-tuning is the reference.
			tr.Quiet = true
			m, err := tr.Evaluate()
			if err != nil {
				return err
			}
			tr.Quiet = false
			results = append(results, result{Run: d.model + " before fine-tuning", Metrics: m})
		}
		t0 := time.Now()
		if _, err := tr.Train(ctx); err != nil {
			return err
		}
		m, _ := tr.LastEval()
		results = append(results, result{Run: r.label, Metrics: m, Seconds: time.Since(t0).Seconds(), Dir: dir})
	}

	fmt.Fprintf(stdout, "\nresults on %d evaluation examples (%s):\n", len(eval.Examples), d.eval+map[bool]string{true: "10% of " + d.train, false: ""}[d.eval == ""])
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	keys := headlineKeys(d.metric)
	fmt.Fprintf(tw, "  run\t%s\ttime\n", strings.Join(keys, "\t"))
	for _, r := range results {
		var cells []string
		for _, k := range keys {
			v, ok := r.Metrics[k]
			if !ok {
				cells = append(cells, "-")
				continue
			}
			cells = append(cells, fmt.Sprintf("%.4g", v))
		}
		secs := "-"
		if r.Seconds > 0 {
			secs = fmt.Sprintf("%.0f s", r.Seconds)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Run, strings.Join(cells, "\t"), secs)
	}
	tw.Flush()
	summary := filepath.Join(*out, d.name, "demo_results.json")
	b, _ := json.MarshalIndent(map[string]any{"demo": d.name, "task": d.task, "model": d.model, "results": results,
		"seconds": time.Since(start).Seconds()}, "", "  ")
	if err := os.WriteFile(summary, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nrun directories (checkpoint, trainer_state.json, log.jsonl, loss.png, model card) under %s; summary %s; total %.0f s\n",
		filepath.Join(*out, d.name), summary, time.Since(start).Seconds())
	return nil
}

// headlineKeys are the metric columns of the results table.
func headlineKeys(metric string) []string {
	switch metric {
	case "eval_accuracy":
		return []string{"eval_accuracy", "eval_f1", "eval_loss"}
	case "eval_pearson":
		return []string{"eval_pearson", "eval_spearmanr", "eval_mse"}
	case "eval_f1_micro":
		return []string{"eval_f1_micro", "eval_f1_macro", "eval_loss"}
	case "eval_overall_f1":
		return []string{"eval_overall_f1", "eval_overall_accuracy", "eval_loss"}
	case "eval_f1":
		return []string{"eval_exact", "eval_f1", "eval_loss"}
	}
	return []string{metric, "eval_loss"}
}

// extractModel unpacks a zoo model into the user's cache (once per
// version: the directory name carries the content digest).
func extractModel(name string) (string, error) {
	card, err := zoo.Info(name)
	if err != nil {
		return "", err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "kiln", "zoo", name+"-"+card.Digest[:12])
	if err := zoo.Extract(name, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// demoData reads the demo's shipped files (embedded in the binary).
func demoData(d demoSpec, ti trainer.TaskInfo, tok *tokenizer.Tokenizer) (train, eval *data.Features, err error) {
	read := func(name string) (*data.Dataset, error) {
		b, err := datasets.Read(name)
		if err != nil {
			return nil, err
		}
		if ti.Data == data.QuestionAnswering {
			return data.ParseSQuAD(b, name)
		}
		r, err := data.NewReader(bytes.NewReader(b), name, data.Options{})
		if err != nil {
			return nil, err
		}
		return data.ReadAll(r, name)
	}
	tr, err := read(d.train)
	if err != nil {
		return nil, nil, err
	}
	var ev *data.Dataset
	if d.eval != "" {
		if ev, err = read(d.eval); err != nil {
			return nil, nil, err
		}
	} else {
		sp, err := tr.Split(0.1, 0, 42)
		if err != nil {
			return nil, nil, err
		}
		tr, ev = sp.Train, sp.Validation
	}
	if d.name == "regression" {
		// Years are ~1900 and the head starts near 0: the target is the
		// year in centuries after 1900 ((year - 1900) / 100), so that MSE
		// starts small, as STS-B's 0-5 scores do.
		for _, ds := range []*data.Dataset{tr, ev} {
			for i, r := range ds.Rows {
				y, err := r.Float("year")
				if err != nil {
					return nil, nil, err
				}
				f := make(map[string]any, len(r.Fields))
				for k, v := range r.Fields {
					f[k] = v
				}
				f["year"] = (y - 1900) / 100
				ds.Rows[i].Fields = f
			}
		}
	}
	spec := trainer.DataSpec{File: d.train, Task: ti, Config: d.cfg}
	if train, err = trainer.PrepareData(spec, tr.Rows, tok); err != nil {
		return nil, nil, err
	}
	spec.File, spec.Config.Labels = d.eval, train.Labels
	if eval, err = trainer.PrepareData(spec, ev.Rows, tok); err != nil {
		return nil, nil, err
	}
	return train, eval, nil
}

// baselineResult is a model-free reference score.
type baselineResult struct {
	name    string
	metrics map[string]float64
}

// baseline is the majority class (classification) or the training mean
// (regression) scored on the evaluation set.
func baseline(d demoSpec, train, eval *data.Features) (baselineResult, bool) {
	switch d.metric {
	case "eval_accuracy":
		counts := map[int]int{}
		for _, e := range train.Examples {
			counts[e.Label]++
		}
		best := 0
		for l, c := range counts {
			if c > counts[best] || c == counts[best] && l < best {
				best = l
			}
		}
		hit := 0
		for _, e := range eval.Examples {
			if e.Label == best {
				hit++
			}
		}
		name := fmt.Sprintf("majority class (%q)", train.Labels.Name(best))
		return baselineResult{name, map[string]float64{"eval_accuracy": float64(hit) / float64(len(eval.Examples))}}, true
	case "eval_pearson":
		var mean float64
		for _, e := range train.Examples {
			mean += float64(e.Target[0])
		}
		mean /= float64(len(train.Examples))
		var mse float64
		for _, e := range eval.Examples {
			mse += math.Pow(float64(e.Target[0])-mean, 2)
		}
		return baselineResult{fmt.Sprintf("training mean (%.2f)", mean), map[string]float64{"eval_mse": mse / float64(len(eval.Examples))}}, true
	}
	return baselineResult{}, false
}
