package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const reference = "../../loss/testdata/loss_reference.json"

func runArgs(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestParityLossesReferencePasses(t *testing.T) {
	code, out, errs := runArgs("parity", "losses", "--cases", reference)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if !strings.Contains(out, "135/135 passed") || !strings.Contains(out, "ce_basic_mean_f64") {
		t.Errorf("table lacks the total or a case:\n%s", out)
	}
}

func TestUsageErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"parity", "losses"}, "--cases is required"},
		{[]string{"parity", "losses", "--cases"}, "--cases needs a value"},
		{[]string{"parity", "losses", "--case", "x"}, "unknown flag --case"},
		{[]string{"parity", "losses", "--cases", "/does/not/exist.json"}, "--cases"},
		{[]string{"parity"}, "missing subcommand"},
		{[]string{"frobnicate"}, "unknown command"},
	} {
		code, _, errs := runArgs(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestParityFailuresExitNonZero(t *testing.T) {
	// One case with a wrong expected loss, one with an unknown op, one with
	// an unknown parameter: three failures, exit 1.
	file := `{"cases": [
	 {"name": "wrong", "group": "g", "op": "mse_loss", "params": {"reduction": "sum"},
	  "inputs": {"input": {"dtype": "float64", "shape": [2], "data": [1, 2]},
	             "target": {"dtype": "float64", "shape": [2], "data": [0, 0]}},
	  "outputs": {"loss": {"dtype": "float64", "shape": [], "data": [6]}, "grad": {}}},
	 {"name": "unknown_op", "group": "g", "op": "ctc_loss", "params": {}, "inputs": {}, "outputs": {}},
	 {"name": "unknown_param", "group": "g", "op": "mse_loss", "params": {"reduction": "sum", "beta": 2},
	  "inputs": {"input": {"dtype": "float64", "shape": [2], "data": [1, 2]},
	             "target": {"dtype": "float64", "shape": [2], "data": [0, 0]}},
	  "outputs": {"loss": {"dtype": "float64", "shape": [], "data": [5]}, "grad": {}}}
	], "errors": []}`
	path := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runArgs("parity", "losses", "--cases", path)
	if code != 1 || !strings.Contains(errs, "3 of 3 cases failed") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	for _, want := range []string{"loss[0] = 5, want 6", `op "ctc_loss" unknown`, "parameter beta=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestPanicIsReportedNotThrown(t *testing.T) {
	commands["boom"] = command{"test", func([]string, io.Writer, io.Writer) error { panic("kaboom") }}
	defer delete(commands, "boom")
	t.Setenv("TMPDIR", t.TempDir())
	code, _, errs := runArgs("boom")
	if code != 3 || !strings.Contains(errs, "internal error: kaboom") || strings.Contains(errs, "goroutine") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	// The full trace went to the file the message names.
	_, path, ok := strings.Cut(errs, "the full trace is in ")
	path, _, _ = strings.Cut(path, " ")
	b, err := os.ReadFile(path)
	if !ok || err != nil || !strings.Contains(string(b), "goroutine") || !strings.Contains(string(b), "kiln boom") {
		t.Errorf("crash report %q: %v\n%s", path, err, b)
	}
}
