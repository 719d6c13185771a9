package auto

import (
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/models/distilbert"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// TestLoadDistilBert loads the DistilBERT parity checkpoint
// (pytorch_model.bin) through the registry, checks that the wrapped forward
// is the family's own, and that other heads can be asked for.
func TestLoadDistilBert(t *testing.T) {
	dir := "../distilbert/testdata/seqcls"
	a, rep, err := Load(dir, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Config()
	if a.Kind() != task.SequenceClassification || c.ModelType != "distilbert" || c.NumLabels() != 3 || c.MaxPositions != 64 ||
		len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("kind %s, config %+v, report %+v", a.Kind(), c, rep)
	}
	ids := tensor.FromInt64([]int64{2, 5, 9, 3, 2, 7, 0, 0}, 2, 4)
	mask := tensor.FromInt64([]int64{1, 1, 1, 1, 1, 1, 0, 0}, 2, 4)
	got, err := a.Forward(Batch{InputIDs: ids, AttentionMask: mask, TokenTypeIDs: tensor.Zeros(tensor.Int64, 2, 4)})
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := distilbert.LoadForSequenceClassification(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, err := own.Forward(distilbert.Batch{InputIDs: ids, AttentionMask: mask})
	if err != nil {
		t.Fatal(err)
	}
	g, w := got.Logits.Float32s(), want.Logits.Float32s()
	for i := range w {
		if g[i] != w[i] {
			t.Fatalf("logit %d: %v via auto, %v direct", i, g[i], w[i])
		}
	}
	m, rep, err := Load(dir, "masked_lm", 0)
	if err != nil || m.Kind() != task.MaskedLM || len(rep.Missing) != 5 || len(rep.Unexpected) != 4 {
		t.Errorf("masked LM head: %v, report %v", err, rep)
	}
	// The token classifier's classifier.* has the 3 labels' shape and loads;
	// pre_classifier.* is left over.
	m, rep, err = Load(dir, "token_classification", 0)
	if err != nil || m.Kind() != task.TokenClassification || len(rep.Missing) != 0 || len(rep.Unexpected) != 2 {
		t.Errorf("token classification head: %v, report %v", err, rep)
	}
	// As from_pretrained: a classifier.weight of another shape is an error.
	if _, _, err := Load(dir, "multiple_choice", 0); err == nil || !strings.Contains(err.Error(), "size mismatch for classifier.bias") {
		t.Errorf("multiple choice on a 3-label checkpoint: %v", err)
	}
	// As in HF, the question-answering head wants num_labels 2; this checkpoint has 3.
	if _, _, err := Load(dir, "question_answering", 0); err == nil || !strings.Contains(err.Error(), "num_labels 2") {
		t.Errorf("QA on a 3-label config: %v", err)
	}
	if _, _, err := Load(dir, "causal_lm", 0); err == nil || !strings.Contains(err.Error(), "distilbert has no causal_lm head") {
		t.Errorf("causal_lm on distilbert: %v", err)
	}
}
