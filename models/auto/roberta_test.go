package auto

import (
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/models/roberta"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// TestLoadRoberta loads the RoBERTa parity checkpoint through the registry
// (head from its architectures), checks that the wrapped forward is the
// family's own, and that another head can be asked for instead.
func TestLoadRoberta(t *testing.T) {
	dir := "../roberta/testdata/mc"
	a, rep, err := Load(dir, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Config()
	if a.Kind() != task.MultipleChoice || c.ModelType != "roberta" || c.MaxPositions != 38 || c.PadTokenID != 1 ||
		len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("kind %s, config %+v, report %+v", a.Kind(), c, rep)
	}
	ids := tensor.FromInt64([]int64{0, 5, 9, 3, 0, 7, 1, 1}, 1, 2, 4)
	got, err := a.Forward(Batch{InputIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := roberta.LoadForMultipleChoice(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, err := own.Forward(roberta.Batch{InputIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	g, w := got.Logits.Float32s(), want.Logits.Float32s()
	for i := range w {
		if g[i] != w[i] {
			t.Fatalf("logit %d: %v via auto, %v direct", i, g[i], w[i])
		}
	}
	for _, k := range []task.Kind{task.SequenceClassification, task.QuestionAnswering, task.MaskedLM} {
		m, rep, err := Load(dir, string(k), 0)
		if err != nil || m.Kind() != k || len(rep.Missing) == 0 {
			t.Errorf("%s head: %v, missing %v", k, err, rep.Missing)
		}
	}
	// As from_pretrained: a classifier.weight of another shape is an error.
	if _, _, err := Load(dir, "token_classification", 0); err == nil || !strings.Contains(err.Error(), "size mismatch for classifier.bias") {
		t.Errorf("token classification on a multiple-choice checkpoint: %v", err)
	}
	if _, _, err := Load(dir, "causal_lm", 0); err == nil || !strings.Contains(err.Error(), "roberta has no causal_lm head") {
		t.Errorf("causal_lm on roberta: %v", err)
	}
}
