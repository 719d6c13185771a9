package auto

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/task"
)

func TestLoadPicksHeadFromArchitectures(t *testing.T) {
	c := bert.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.MaxPositionEmbeddings = 50, 8, 1, 2, 16, 16
	c.SetNumLabels(4)
	m, err := bert.NewForTokenClassification(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	a, rep, err := Load(dir, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != task.TokenClassification || a.Config().NumLabels() != 4 || len(rep.Missing) != 0 {
		t.Errorf("kind %s, %d labels, missing %v", a.Kind(), a.Config().NumLabels(), rep.Missing)
	}
	// --task overrides: a QA head on the same encoder, head weights new.
	q, rep, err := Load(dir, "question_answering", 0)
	if err != nil || q.Kind() != task.QuestionAnswering || len(rep.Missing) == 0 {
		t.Errorf("override: %v, %v, missing %v", err, q, rep.Missing)
	}
	if _, _, err := Load(dir, "causal_lm", 0); err == nil || !strings.Contains(err.Error(), "no causal_lm head") {
		t.Errorf("causal_lm on bert: %v", err)
	}
}

func TestLoadErrorsNameFileAndValue(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{`{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}`, `model_type "llama" is not supported`},
		{`{"architectures": ["BertForMaskedLM"]}`, "no model_type"},
		{`{"model_type": "bert", "architectures": ["BertModel"]}`, `architecture "BertModel"`},
		{`{"model_type": "bert", "architectures": ["BertForSummaries"]}`, `architecture "BertForSummaries"`},
		{`{"model_type": "bert"}`, "no architectures"},
		{`{"model_type": `, "config.json"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(c.config), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(dir, "", 0)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s: %v, want %q and the file", c.config, err, c.want)
		}
	}
	if got := ModelTypes(); !reflect.DeepEqual(got, []string{"bert", "distilbert", "gpt2", "roberta"}) {
		t.Errorf("ModelTypes() = %v", got)
	}
}

// LoadWith swaps the classifier for a new label set (the old one reported as
// mismatched) and builds a model from config.json alone.
func TestLoadWithLabelsAndRandomInit(t *testing.T) {
	c := bert.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.MaxPositionEmbeddings = 50, 8, 1, 2, 16, 16
	m, err := bert.NewForSequenceClassification(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	a, rep, err := LoadWith(dir, Options{Kind: task.SequenceClassification, Labels: []string{"neg", "neu", "pos"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Params().Get("classifier.weight").Shape(); got[0] != 3 || a.Config().ID2Label[2] != "pos" {
		t.Fatalf("classifier %v, id2label %v", got, a.Config().ID2Label)
	}
	if len(rep.Mismatched) != 2 {
		t.Fatalf("mismatched %v, want the classifier's weight and bias", rep.Mismatched)
	}
	enc := "bert.encoder.layer.0.output.dense.weight"
	if !equal(a.Params().Get(enc).Float32s(), m.Params().Get(enc).Float32s()) {
		t.Fatal("encoder weights not loaded")
	}
	os.Remove(filepath.Join(dir, "model.safetensors"))
	r, _, err := LoadWith(dir, Options{Kind: task.MaskedLM, RandomInit: true, Seed: 3})
	if err != nil || r.Kind() != task.MaskedLM {
		t.Fatalf("random init: %v", err)
	}
	if _, _, err := LoadWith(dir, Options{Kind: task.MaskedLM}); err == nil {
		t.Fatal("loading without weights succeeded")
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
