package report

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// trainerState is trimmed from a real HF trainer_state.json, with Python's
// NaN for a diverged grad norm and non-numeric fields that must be ignored.
const trainerState = `{
  "best_metric": null,
  "best_model_checkpoint": null,
  "epoch": 2.0,
  "eval_steps": 500,
  "global_step": 40,
  "is_hyper_param_search": false,
  "log_history": [
    {
      "epoch": 0.5,
      "grad_norm": NaN,
      "learning_rate": 3.75e-05,
      "loss": 0.6931,
      "step": 10
    },
    {
      "epoch": 1.0,
      "eval_accuracy": 0.75,
      "eval_loss": 0.5,
      "eval_runtime": 1.2,
      "eval_model_name": "bert",
      "eval_flag": true,
      "eval_nested": {"a": 1},
      "eval_none": null,
      "step": 20
    },
    {"epoch": 2.0, "step": 40, "total_flos": 1e+300, "train_loss": Infinity, "x": -Infinity}
  ],
  "logging_steps": 10,
  "trial_name": "NaN in a string is a string"
}
`

func TestReadHistoryTrainerState(t *testing.T) {
	dir := t.TempDir()
	h, err := ReadHistory(writeFile(t, dir, "trainer_state.json", trainerState))
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("%d entries", len(h))
	}
	if !math.IsNaN(h[0]["grad_norm"]) {
		t.Errorf("grad_norm = %v, want NaN", h[0]["grad_norm"])
	}
	delete(h[0], "grad_norm")
	want0 := Entry{"epoch": 0.5, "learning_rate": 3.75e-05, "loss": 0.6931, "step": 10}
	want1 := Entry{"epoch": 1, "eval_accuracy": 0.75, "eval_loss": 0.5, "eval_runtime": 1.2, "step": 20}
	want2 := Entry{"epoch": 2, "step": 40, "total_flos": 1e300, "train_loss": math.Inf(1), "x": math.Inf(-1)}
	for i, want := range []Entry{want0, want1, want2} {
		if !reflect.DeepEqual(h[i], want) {
			t.Errorf("entry %d = %v, want %v", i, h[i], want)
		}
	}
}

func TestReadHistoryJSONL(t *testing.T) {
	dir := t.TempDir()
	content := `{"loss": 0.69, "learning_rate": 5e-05, "epoch": 0.5, "step": 10}

{"eval_loss": 0.5, "eval_accuracy": 0.75, "epoch": 1.0, "step": 20, "note": "x"}
{"loss": NaN, "step": 30}
{"loss": 0.4, "st`
	h, err := ReadHistory(writeFile(t, dir, "log.jsonl", content))
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("%d entries: %v", len(h), h)
	}
	if !reflect.DeepEqual(h[1], Entry{"eval_loss": 0.5, "eval_accuracy": 0.75, "epoch": 1, "step": 20}) {
		t.Errorf("entry 1 = %v", h[1])
	}
	if !math.IsNaN(h[2]["loss"]) || h[2]["step"] != 30 {
		t.Errorf("entry 2 = %v", h[2])
	}
	// A one-line log is still JSON lines, whatever its name.
	h, err = ReadHistory(writeFile(t, dir, "history.log", `{"loss": 1, "step": 1}`+"\n"))
	if err != nil || len(h) != 1 || h[0]["loss"] != 1 {
		t.Errorf("one line: %v, %v", h, err)
	}
}

func TestReadHistoryErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"log.jsonl", "{\"loss\": 1, \"step\": 1}\n{\"loss\": 2,, \"step\": 2}\n{\"step\": 3}\n",
			"log.jsonl:2: invalid JSON"},
		{"log.jsonl", "{\"step\": 1}\n[1, 2]\n", "log.jsonl:2: not a JSON object"},
		{"log.jsonl", "{\"step\": 1}\nnull\n", "log.jsonl:2: not a JSON object"},
		{"trainer_state.json", "{\n  \"global_step\": 3,\n  \"log_history\": [\n    {\"step\": 1},\n    3\n  ]\n}\n",
			"trainer_state.json:5: log_history[1]: not a JSON object"},
		{"trainer_state.json", "{\n  \"log_history\": {\"step\": 1}\n}\n",
			"trainer_state.json:2: log_history is not a list"},
		{"trainer_state.json", "{\n  \"log_history\": [\n    {\"step\": 1},\n    {\"step\": 2,}\n  ]\n}\n",
			"trainer_state.json:4: invalid character"},
		{"trainer_state.json", "{\n  \"global_step\": 3\n}\n", `trainer_state.json: no "log_history" list`},
		{"trainer_state.json", "{\n  \"log_history\": [\n", "trainer_state.json:2: unexpected end of file"},
	} {
		path := writeFile(t, dir, tc.name, tc.content)
		_, err := ReadHistory(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%q: error %v, want one containing %q and the path", tc.content, err, tc.want)
		}
	}
	if _, err := ReadHistory(filepath.Join(dir, "missing.jsonl")); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing file: %v", err)
	}
}

func TestPythonJSON(t *testing.T) {
	in := `{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN \"Infinity\" \\", "NaN": 1}`
	want := `{"a": ` + nanToken + `, "b": [` + posInfToken + `, ` + negInfToken + `], "c": "NaN \"Infinity\" \\", "NaN": 1}`
	if got := string(pythonJSON([]byte(in))); got != want {
		t.Errorf("pythonJSON\n got %s\nwant %s", got, want)
	}
}

func TestHistoryFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := HistoryFile(dir); err == nil {
		t.Error("empty run dir: no error")
	}
	writeFile(t, dir, "checkpoint-500/trainer_state.json", "{}")
	writeFile(t, dir, "checkpoint-1500/trainer_state.json", "{}")
	writeFile(t, dir, "checkpoint-999/trainer_state.json", "{}")
	if got, err := HistoryFile(dir); err != nil || got != filepath.Join(dir, "checkpoint-1500", "trainer_state.json") {
		t.Errorf("checkpoints: %q, %v", got, err)
	}
	writeFile(t, dir, "trainer_state.json", "{}")
	if got, _ := HistoryFile(dir); got != filepath.Join(dir, "trainer_state.json") {
		t.Errorf("trainer_state: %q", got)
	}
	log := writeFile(t, dir, "log.jsonl", "")
	if got, _ := HistoryFile(dir); got != log {
		t.Errorf("log.jsonl: %q", got)
	}
	if got, _ := HistoryFile(log); got != log {
		t.Errorf("a file: %q", got)
	}
}
