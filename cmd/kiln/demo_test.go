package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The causal-LM demo end to end on a quarter epoch: kiln-gpt2-mini unpacked
// from the binary, the pretrained model scored before fine-tuning, the
// fine-tuned and the random-init runs compared, the summary written.
func TestDemoCausalLM(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small models")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	out := t.TempDir()
	code, stdout, stderr := runArgs("demo", "--task", "clm", "--epochs", "0.25", "--output_dir", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"kiln-gpt2-mini before fine-tuning", "fine-tuned from kiln-pretrained weights",
		"same model trained from random weights", "labels shifted left by one"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "clm", "demo_results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Results []struct {
			Run     string
			Metrics map[string]float64
		}
	}
	if err := json.Unmarshal(b, &sum); err != nil || len(sum.Results) != 3 {
		t.Fatalf("demo_results.json: %v\n%s", err, b)
	}
	pre, random := sum.Results[1].Metrics["eval_perplexity"], sum.Results[2].Metrics["eval_perplexity"]
	if !(pre > 1 && pre < random) {
		t.Errorf("perplexity fine-tuned from pretrained %v, from random %v: pretraining should win", pre, random)
	}
	if _, err := os.Stat(filepath.Join(out, "clm", "from-pretrained", "loss.png")); err != nil {
		t.Error(err)
	}
}

func TestDemoUsage(t *testing.T) {
	if code, _, stderr := runArgs("demo", "--task", "poetry"); code != 2 || !strings.Contains(stderr, `no demo "poetry"`) {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
