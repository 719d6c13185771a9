package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/kiln-ml/kiln/internal/benchbert"
)

// runBench handles `kiln bench --config tiny|mini|small|base --threads N`:
// the BERT training and inference steps of ../shared/bench/torch_bert.py,
// printed as one JSON line with that script's keys.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kiln bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := fs.String("config", "mini", "model size: "+strings.Join(benchbert.Names(), ", "))
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "worker threads (GOMAXPROCS)")
	steps := fs.Int("steps", 5, "measured training steps")
	warmup := fs.Int("warmup", 2, "unmeasured steps first")
	infer := fs.Int("infer-steps", 5, "measured inference steps")
	batch := fs.Int("batch", 0, "batch size (0: the config's)")
	tag := fs.String("tag", "", "free text copied into the output")
	if help, err := parseFlags(fs, args, "usage: kiln bench [--config NAME] [--threads N] [--steps N] [--warmup N] [--infer-steps N] [--batch N] [--tag TEXT]", stdout); help || err != nil {
		return err
	}
	if _, ok := benchbert.Shapes[*cfg]; !ok {
		return usagef("flag --config: %q is not one of %s", *cfg, strings.Join(benchbert.Names(), ", "))
	}
	for name, v := range map[string]int{"threads": *threads, "steps": *steps, "infer-steps": *infer} {
		if v < 1 {
			return usagef("flag --%s: %d, want at least 1", name, v)
		}
	}
	if *warmup < 0 || *batch < 0 {
		return usagef("flags --warmup and --batch cannot be negative")
	}
	// The engine's worker pool is sized from GOMAXPROCS when it first runs,
	// which is below: set it first.
	runtime.GOMAXPROCS(*threads)
	r, err := benchbert.Run(benchbert.Options{Config: *cfg, Threads: *threads, Steps: *steps, Warmup: *warmup,
		InferStep: *infer, Batch: *batch, Tag: *tag})
	if err != nil {
		return err
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))
	return nil
}
