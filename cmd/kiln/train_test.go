package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/models/bert"
)

// trainFixture is a base BERT (no head) with a vocabulary and a small
// sentiment CSV split in two.
func trainFixture(t *testing.T) (model, train, eval string) {
	t.Helper()
	model = saveWithVocab(t, func(dir string) error {
		m, err := bert.NewForMaskedLM(tinyConfig(), 1)
		if err != nil {
			return err
		}
		return m.Save(dir)
	})
	d := t.TempDir()
	var b strings.Builder
	b.WriteString("review,score\n")
	good := []string{"great taste, i love it", "wonderful and fresh", "the best coffee ever", "delicious snack, buy it"}
	bad := []string{"awful, stale and bland", "terrible, do not buy", "it tasted like cardboard", "bad smell and broken bag"}
	for i := 0; i < 6; i++ {
		for j := range good {
			b.WriteString(`"` + good[j] + `",great` + "\n")
			b.WriteString(`"` + bad[j] + `",other` + "\n")
		}
	}
	train = writeFile(t, d, "train.csv", b.String())
	eval = writeFile(t, d, "dev.csv", "review,score\n\"i love it, great\",great\n\"stale and awful\",other\n")
	return model, train, eval
}

func TestTrainThenEval(t *testing.T) {
	model, train, eval := trainFixture(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runArgs("train", "--model", model, "--task", "text-classification",
		"--train_file", train, "--validation_file", eval, "--text_column", "review", "--label_column", "score",
		"--test_file", eval,
		"--output_dir", out, "--num_train_epochs", "2", "--per-device-train-batch-size", "8",
		"--learning_rate", "1e-3", "--eval_strategy", "epoch", "--save_strategy", "epoch", "--logging_steps", "2")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "***** eval metrics *****") || !strings.Contains(stdout, "eval_accuracy") {
		t.Errorf("stdout lacks the eval table:\n%s", stdout)
	}
	if strings.Contains(stderr, "\r") {
		t.Error("carriage return in non-terminal output")
	}
	var cfg struct {
		ID2Label map[string]string `json:"id2label"`
	}
	b, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &cfg)
	if cfg.ID2Label["0"] != "great" || cfg.ID2Label["1"] != "other" {
		t.Errorf("saved id2label %v, want the data's labels", cfg.ID2Label)
	}
	for _, f := range []string{"checkpoint-6/trainer_state.json", "checkpoint-12/optimizer.safetensors", "vocab.txt", "loss.png", "log.jsonl", "predict_results.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// The trained model evaluates from its own directory, labels from its
	// config.
	code, stdout, stderr = runArgs("eval", "--model", out, "--validation_file", eval, "--text_column", "review", "--label_column", "score")
	if code != 0 || !strings.Contains(stdout, "eval_accuracy") {
		t.Fatalf("eval: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Training again into the same directory needs a decision.
	code, _, stderr = runArgs("train", "--model", model, "--task", "text-classification", "--train_file", train,
		"--text_column", "review", "--label_column", "score", "--output_dir", out)
	if code != 1 || !strings.Contains(stderr, "resume_from_checkpoint") {
		t.Errorf("second run into %s: exit %d, %s", out, code, stderr)
	}
}

func TestTrainExplain(t *testing.T) {
	model, train, _ := trainFixture(t)
	code, stdout, stderr := runArgs("train", "--model", model, "--task", "text-classification", "--train_file", train,
		"--text_column", "review", "--label_column", "score", "--explain", "--output_dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"task: text-classification", "single-label-classification", "cross_entropy", "labels (2): great, other", `"learning_rate": 0.00005`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--explain output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestTrainUsageErrors(t *testing.T) {
	model, train, _ := trainFixture(t)
	cfg := writeFile(t, t.TempDir(), "args.yaml", "learning_rate: 3e-5\nlearnin_rate: 1\n")
	base := []string{"train", "--model", model, "--task", "text-classification", "--train_file", train, "--text_column", "review", "--label_column", "score"}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--task", "text-classification"}, 2, "--model is required"},
		{append(base, "--learning_rate", "-1"), 2, "learning_rate"},
		{append(base, "--lr", "1"), 2, "unknown flag --lr"},
		{append(base, "--task", "sentiment"), 2, "unknown task \"sentiment\""},
		{append(base, "--config", cfg), 2, "learnin_rate"},
		{append(base, "--eval_strategy", "sometimes"), 2, "eval_strategy"},
		{[]string{"train", "--model", model, "--task", "text-classification", "--train_file", "/no/such.csv"}, 1, "/no/such.csv"},
	} {
		code, _, stderr := runArgs(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", tc.args[len(tc.args)-2:], code, stderr, tc.code, tc.want)
		}
	}
}
