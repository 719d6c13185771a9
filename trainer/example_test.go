package trainer_test

import (
	"context"
	"fmt"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/tokenizer"
	"github.com/kiln-ml/kiln/trainer"
)

// The README's ten lines (compiled, not run: they need a model directory).
func Example_tenLines() {
	dir, ctx := "path/to/bert-dir", context.Background()
	run := func() error {
		tok, _ := tokenizer.Load(dir)
		task, _ := trainer.LookupTask("text-classification")
		train, _ := trainer.LoadData(trainer.DataSpec{File: "train.csv", Task: task}, tok)
		eval, _ := trainer.LoadData(trainer.DataSpec{File: "dev.csv", Task: task, Config: data.Config{Labels: train.Labels}}, tok)
		model, _, _ := auto.LoadWith(dir, auto.Options{Kind: task.Kind, Labels: train.Labels.Names(), Seed: 42})
		args := trainer.DefaultArgs()
		args.OutputDir, args.EvalStrategy, args.NumTrainEpochs = "out", "epoch", 3
		tr, _ := trainer.New(args, model, tok, train, eval)
		res, _ := tr.Train(ctx) // cancel ctx to stop with a checkpoint
		metrics, _ := tr.Evaluate()
		fmt.Println(res.TrainLoss, metrics["eval_accuracy"])
		return nil
	}
	_ = run
}
