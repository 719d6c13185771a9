package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/datasets"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/tokenizer"
	"github.com/kiln-ml/kiln/trainer"
)

// The sentiment demo's fine-tuning settings (cmd/kiln/demo.go); lrgrid
// varies the learning rate and the initialisation only.
const (
	gridBatch     = 32
	gridWarmup    = 0.1
	gridDecay     = 0.01
	gridMaxLength = 128
	// gridHoldout of the training reviews (seed gridSplitSeed) score the
	// grid; the demo's test reviews are never used to choose.
	gridHoldout   = 0.125
	gridSplitSeed = 7
	// gridFile is the demo's training file (package datasets).
	gridFile = "fine_foods_train.csv"
)

// runLRGrid handles `lrgrid`: fine-tune a model on the sentiment demo's
// training reviews at several learning rates, from its pretrained weights
// and from random weights, scored on reviews held out of the training file.
// It is how the demo's learning rates are chosen: each initialisation gets
// the rate that is best for it, so that the comparison the demo shows is
// not decided by a rate that suits one of the two.
func runLRGrid(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pretrain lrgrid", flag.ContinueOnError)
	model := fs.String("model", "", "`DIR`: the model to fine-tune (zoo/models/kiln-bert-mini, a run directory)")
	lrs := fs.String("lrs", "1e-4,2e-4,5e-4,1e-3", "comma-separated learning `RATES`")
	epochs := fs.Float64("epochs", 2, "training epochs")
	seeds := fs.String("seeds", "42", "comma-separated `SEEDS` (model initialisation, dropout, data order)")
	inits := fs.String("init", "pretrained,random", "`INITS` to run: pretrained, random or both")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("lrgrid: unexpected argument %q", fs.Arg(0))
	}
	if *model == "" {
		return errors.New("lrgrid: flag -model is required")
	}
	rates, err := parseFloats("-lrs", *lrs)
	if err != nil {
		return err
	}
	seedList, err := parseFloats("-seeds", *seeds)
	if err != nil {
		return err
	}
	var random []bool
	for _, s := range strings.Split(*inits, ",") {
		switch strings.TrimSpace(s) {
		case "pretrained":
			random = append(random, false)
		case "random":
			random = append(random, true)
		default:
			return fmt.Errorf("lrgrid: flag -init: %q is neither pretrained nor random", s)
		}
	}
	tok, err := tokenizer.Load(*model)
	if err != nil {
		return err
	}
	train, held, err := gridData(tok)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lrgrid: %s, %d training reviews, %d held out (%.1f%% of fine_foods_train.csv, seed %d), %g epochs\n",
		*model, len(train.Examples), len(held.Examples), 100*gridHoldout, gridSplitSeed, *epochs)
	// One line per run as it finishes (a run takes a minute).
	const row = "%-10s  %13s  %4s  %8s  %10s  %9s\n"
	fmt.Fprintf(stdout, row, "init", "learning rate", "seed", "accuracy", "F1 (other)", "eval loss")
	type key struct {
		random bool
		lr     float64
	}
	mean := map[key]float64{}
	for _, r := range random {
		for _, lr := range rates {
			for _, seed := range seedList {
				m, err := gridRun(*model, tok, train, held, r, lr, *epochs, int64(seed))
				if err != nil {
					return err
				}
				mean[key{r, lr}] += m["eval_accuracy"] / float64(len(seedList))
				fmt.Fprintf(stdout, row, initName(r), fmt.Sprint(lr), fmt.Sprint(int64(seed)), fmt.Sprintf("%.4f", m["eval_accuracy"]),
					fmt.Sprintf("%.4f", m["eval_f1"]), fmt.Sprintf("%.4f", m["eval_loss"]))
			}
		}
	}
	for _, r := range random {
		best := rates[0]
		for _, lr := range rates {
			if mean[key{r, lr}] > mean[key{r, best}] {
				best = lr
			}
		}
		fmt.Fprintf(stdout, "best for %s: learning rate %g (mean accuracy %.4f)\n", initName(r), best, mean[key{r, best}])
	}
	return nil
}

func initName(random bool) string {
	if random {
		return "random"
	}
	return "pretrained"
}

func parseFloats(flagName, s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("lrgrid: flag %s: %q is not a positive number", flagName, f)
		}
		out = append(out, v)
	}
	return slices.Compact(out), nil
}

// gridData splits the demo's training reviews into training and held-out
// parts.
func gridData(tok *tokenizer.Tokenizer) (train, held *data.Features, err error) {
	const name = gridFile
	sp, err := gridSplit()
	if err != nil {
		return nil, nil, err
	}
	ti, err := trainer.LookupTask("text-classification")
	if err != nil {
		return nil, nil, err
	}
	spec := trainer.DataSpec{File: name, Task: ti,
		Config: data.Config{TextField: "review", LabelField: "score", MaxLength: gridMaxLength}}
	if train, err = trainer.PrepareData(spec, sp.Train.Rows, tok); err != nil {
		return nil, nil, err
	}
	spec.Config.Labels = train.Labels
	if held, err = trainer.PrepareData(spec, sp.Validation.Rows, tok); err != nil {
		return nil, nil, err
	}
	return train, held, nil
}

// gridSplit splits the demo's training reviews into lrgrid's training and
// held-out parts.
func gridSplit() (*data.Splits, error) {
	b, err := datasets.Read(gridFile)
	if err != nil {
		return nil, err
	}
	r, err := data.NewReader(bytes.NewReader(b), gridFile, data.Options{})
	if err != nil {
		return nil, err
	}
	ds, err := data.ReadAll(r, gridFile)
	if err != nil {
		return nil, err
	}
	return ds.Split(gridHoldout, 0, gridSplitSeed)
}

// gridHeldTexts is the set of review texts lrgrid holds out; the corpus
// command's -lrgrid-holdout leaves them out of pretraining, so that the
// held-out score measures what pretraining brings to unseen reviews.
func gridHeldTexts() (map[string]bool, error) {
	sp, err := gridSplit()
	if err != nil {
		return nil, err
	}
	held := map[string]bool{}
	for _, r := range sp.Validation.Rows {
		t, err := r.Str("review")
		if err != nil {
			return nil, err
		}
		held[t] = true
	}
	return held, nil
}

// gridRun fine-tunes once and returns the held-out metrics.
func gridRun(dir string, tok *tokenizer.Tokenizer, train, held *data.Features, random bool, lr, epochs float64, seed int64) (map[string]float64, error) {
	ti, err := trainer.LookupTask("text-classification")
	if err != nil {
		return nil, err
	}
	model, _, err := auto.LoadWith(dir, auto.Options{Kind: ti.Kind, Seed: uint64(seed), RandomInit: random,
		ProblemType: string(ti.ProblemType), Labels: train.Labels.Names()})
	if err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp("", "lrgrid-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	a := trainer.DefaultArgs()
	a.OutputDir, a.OverwriteOutputDir, a.Seed = out, true, seed
	a.NumTrainEpochs, a.LearningRate, a.WarmupRatio, a.WeightDecay = epochs, lr, gridWarmup, gridDecay
	a.PerDeviceTrainBatchSize, a.PerDeviceEvalBatchSize = gridBatch, 64
	no := false
	a.EvalStrategy, a.SaveStrategy, a.SaveFinalModel = "epoch", "no", &no
	tr, err := trainer.New(a, model, tok, train, held)
	if err != nil {
		return nil, err
	}
	tr.Out, tr.Quiet = io.Discard, true
	if _, err := tr.Train(context.Background()); err != nil {
		return nil, err
	}
	m, step := tr.LastEval()
	if step == 0 {
		return nil, errors.New("lrgrid: no evaluation")
	}
	return m, nil
}
