// Command pretrain prepares and packages the pretraining of kiln's two small
// embedded models, kiln-bert-mini (masked LM) and kiln-gpt2-mini (causal LM);
// README.md next to this file is the whole recipe. Run it from the
// repository root.
//
//	go run ./tools/pretrain corpus -out DIR
//
// writes DIR/train.jsonl and DIR/validation.jsonl: every paragraph of the
// public-domain LM corpora in datasets (Moby-Dick, Austen, State of the
// Union passages), one {"text", "source"} row each, split 98/2 at random per
// source with a fixed seed (each part keeps file order). Each text ends with
// "\n\n", the paragraph break GPT-2 learns from; BERT's tokenizer drops it.
// With -lrgrid-holdout the reviews that lrgrid scores on are left out of
// datasets/fine_foods_train.csv, so that pretraining never reads them.
// The files are derived from committed data, so they are not committed.
//
//	go run ./tools/pretrain export -from RUN_DIR -model tools/pretrain/bert \
//	    -to zoo/models/kiln-bert-mini -validation DIR/validation.jsonl
//
// packages a finished run for package zoo: it checks that RUN_DIR's weights
// load into the model of RUN_DIR/config.json with nothing missing or
// unexpected and that this config matches -model's, writes the weights as
// float16 model.safetensors, config.json (torch_dtype "float16") and -model's
// tokenizer files into -to, compares the evaluation loss of the float32 and
// float16 weights on the validation file, prints the loss again with each
// block's tokens shuffled (how much the model uses word order) and the
// numbers the model card asks for. The card (README.md in -to) is left for
// you to fill.
//
//	go run ./tools/pretrain lrgrid -model zoo/models/kiln-bert-mini
//
// fine-tunes the model on the sentiment demo's training reviews at several
// learning rates, from its pretrained and from random weights, scored on
// 12.5% of the training reviews held out: the demo uses each
// initialisation's best rate.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  go run ./tools/pretrain fulltext -moby DIR -sotu DIR -austen CSV -out FILE.jsonl
  go run ./tools/pretrain corpus -out DIR [-input PATH[:FIELD] ...] [-validation 0.02] [-seed 42] [-lrgrid-holdout]
  go run ./tools/pretrain export -from RUN_DIR -model CONFIG_DIR -to ZOO_DIR [-validation FILE]
  go run ./tools/pretrain lrgrid -model DIR [-lrs 1e-4,2e-4,5e-4,1e-3] [-epochs 2] [-seeds 42] [-init pretrained,random]`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pretrain:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("missing command (fulltext, corpus, export or lrgrid)")
	}
	switch args[0] {
	case "corpus":
		return runCorpus(args[1:], stdout)
	case "export":
		return runExport(args[1:], stdout)
	case "fulltext":
		return runFulltext(args[1:], stdout)
	case "lrgrid":
		return runLRGrid(args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q (fulltext, corpus, export or lrgrid)", args[0])
}
