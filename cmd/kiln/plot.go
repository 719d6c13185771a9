package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/kiln-ml/kiln/internal/report"
)

const plotUsage = "usage: kiln plot RUN_DIR  (redraws loss, learning-rate and metric plots from trainer_state.json or log.jsonl)"

// runPlot handles `kiln plot RUN_DIR`.
func runPlot(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kiln plot", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, plotUsage)
			return nil
		}
		return usagef("%s", flagError(err))
	}
	if fs.NArg() != 1 {
		return usagef("want one run directory; %s", plotUsage)
	}
	dir := fs.Arg(0)
	path, err := report.HistoryFile(dir)
	if err != nil {
		return err
	}
	h, err := report.ReadHistory(path)
	if err != nil {
		return err
	}
	files, err := report.WritePlots(dir, h)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: the log history has no points to plot", path)
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return nil
}
