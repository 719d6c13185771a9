// Command kiln is kiln's command-line tool.
//
//	kiln <command> [subcommand] [flags]
//
// Commands:
//
//	demo [--task NAME]                           fine-tune kiln's pretrained BERT on shipped reviews (no arguments needed)
//	train --model DIR --task TASK --train_file FILE  fine-tune or pretrain; training arguments as flags or --config FILE
//	eval --model DIR --validation_file FILE      metrics of a model on labelled data
//	plot RUN_DIR                                 redraw a run's loss and metric plots
//	bench --config NAME --threads N              BERT training and inference speed (torch_bert.py's JSON keys)
//	parity losses --cases FILE                  check kiln's losses against a PyTorch reference file
//	predict --model DIR --data FILE --output OUT.jsonl  a model's logits for every example (task from config.json or --task)
//	tokenize --tokenizer DIR --input FILE.jsonl  token ids, type ids, masks and offsets as JSONL
//	help                                         print the commands
//
// Exit status: 0 on success, 1 when a command fails (for parity: any failing
// case), 2 for a usage error (the message names the flag), 3 for an internal
// error (reported briefly, never as a Go panic trace).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError carries a non-zero exit status without a message of its own
// (the command already printed its report).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// command is one entry of the dispatcher.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"demo":     {"demo [--task sentiment|regression|multilabel|ner|qa|clm]: fine-tune kiln's own pretrained model on shipped data, next to baselines", runDemo},
	"train":    {"train --model DIR --task TASK --train_file FILE [--validation_file FILE] [--config FILE]: fine-tune or pretrain (every training argument as a flag)", runTrain},
	"eval":     {"eval --model DIR --validation_file FILE [--task TASK]: metrics of a model on labelled data", runEval},
	"plot":     {"plot RUN_DIR: redraw a run's plots (PNG and SVG) from trainer_state.json or log.jsonl", runPlot},
	"bench":    {"bench --config tiny|mini|small|base --threads N: BERT train/infer tokens/s as torch_bert.py prints them", runBench},
	"parity":   {"parity losses --cases FILE: check kiln's losses against a PyTorch reference file", runParity},
	"predict":  {"predict --model DIR --data FILE --output OUT.jsonl: logits (and loss, with labels) of a model for every example", runPredict},
	"tokenize": {"tokenize --tokenizer DIR --input FILE.jsonl: token ids, type ids, masks and offsets as JSONL", runTokenize},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run dispatches args and returns the exit status. A panic anywhere below
// is caught here and reported in two lines.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "kiln: internal error: %v\n", r)
			stack := debug.Stack()
			switch path, err := writeCrashReport(args, r, stack); {
			case os.Getenv("KILN_TRACEBACK") != "":
				stderr.Write(stack)
			case err == nil:
				fmt.Fprintf(stderr, "kiln: this is a bug; the full trace is in %s (please attach it to a report)\n", path)
			default:
				fmt.Fprintln(stderr, "kiln: this is a bug; rerun with KILN_TRACEBACK=1 for the stack and please report it")
			}
			code = 3
		}
	}()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kiln: unknown command %q\n", args[0])
		printUsage(stderr)
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "kiln %s: %v\n", args[0], err)
		return 2
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "kiln %s: %v\n", args[0], err)
		return 1
	}
}

// writeCrashReport saves the command line, the panic value and the stack
// in a file under the temporary directory and returns its path.
func writeCrashReport(args []string, r any, stack []byte) (string, error) {
	f, err := os.CreateTemp("", "kiln-crash-*.txt")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(f, "kiln %s\npanic: %v\n\n%s", strings.Join(args, " "), r, stack)
	return f.Name(), f.Close()
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: kiln <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  help      print this message")
}

// parseFlags parses a command's flags. With -h it prints usage and the
// flags to stdout and returns help; a bad flag or a stray argument is a
// usage error naming it.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout io.Writer) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return true, nil
		}
		return false, usagef("%s", flagError(err))
	}
	if fs.NArg() > 0 {
		return false, usagef("unexpected argument %q", fs.Arg(0))
	}
	return false, nil
}

// flagName strips the dashes the user typed.
func flagName(s string) string { return strings.TrimLeft(s, "-") }
