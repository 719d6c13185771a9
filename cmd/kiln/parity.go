package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kiln-ml/kiln/loss/parity"
)

// runParity handles `kiln parity <what> [flags]`.
func runParity(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing subcommand: want `kiln parity losses --cases FILE`")
	}
	switch args[0] {
	case "losses":
		return runParityLosses(args[1:], stdout, stderr)
	}
	return usagef("unknown subcommand %q: want `kiln parity losses --cases FILE`", args[0])
}

// runParityLosses evaluates every case of a reference file with kiln's
// losses, prints the table and fails on any failing case.
func runParityLosses(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kiln parity losses", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cases := fs.String("cases", "", "cases `FILE` in the JSON schema of tools/torch_loss_reference.py")
	failuresOnly := fs.Bool("failures", false, "print only failing cases (and the totals)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: kiln parity losses --cases FILE [--failures]")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return usagef("%s", flagError(err))
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (the cases file goes after --cases)", fs.Arg(0))
	}
	if *cases == "" {
		return usagef("flag --%s is required: a cases file written by tools/torch_loss_reference.py", flagName("cases"))
	}
	if _, err := os.Stat(*cases); err != nil {
		return usagef("flag --cases: %v", err)
	}
	f, err := parity.Load(*cases)
	if err != nil {
		return fmt.Errorf("flag --cases: %w", err)
	}
	r := parity.Run(f)
	if *failuresOnly {
		kept := r.Results[:0:0]
		for _, x := range r.Results {
			if !x.Pass {
				kept = append(kept, x)
			}
		}
		failed := &parity.Report{Results: kept}
		failed.WriteTable(stdout)
		fmt.Fprintf(stdout, "%d of %d cases failed\n", len(kept), len(r.Results))
	} else {
		r.WriteTable(stdout)
	}
	if n := r.Failed(); n > 0 {
		fmt.Fprintf(stderr, "kiln parity losses: %d of %d cases failed\n", n, len(r.Results))
		return exitError{1}
	}
	return nil
}

// flagError rewrites the flag package's messages to name the flag as the
// user types it (--cases).
func flagError(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: -"):
		return fmt.Sprintf("unknown flag --%s", flagName(strings.TrimPrefix(msg, "flag provided but not defined: -")))
	case strings.HasPrefix(msg, "flag needs an argument: -"):
		return fmt.Sprintf("flag --%s needs a value", flagName(strings.TrimPrefix(msg, "flag needs an argument: -")))
	}
	return msg
}
