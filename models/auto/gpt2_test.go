package auto

import (
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/models/gpt2"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// TestLoadGPT2 loads the GPT-2 parity checkpoint through the registry (head
// from its architectures), checks that the wrapped forward is the family's
// own, and that a classification head can be asked for instead.
func TestLoadGPT2(t *testing.T) {
	dir := "../gpt2/testdata/lm"
	a, rep, err := Load(dir, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != task.CausalLM || a.Config().ModelType != "gpt2" || len(rep.Missing) != 0 || len(rep.Unexpected) != 0 {
		t.Fatalf("kind %s, config %+v, report %+v", a.Kind(), a.Config(), rep)
	}
	ids := tensor.FromInt64([]int64{1, 5, 9, 3, 2, 7}, 2, 3)
	got, err := a.Forward(Batch{InputIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := gpt2.LoadLMHeadModel(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, err := own.Forward(gpt2.Batch{InputIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	g, w := got.Logits.Float32s(), want.Logits.Float32s()
	for i := range w {
		if g[i] != w[i] {
			t.Fatalf("logit %d: %v via auto, %v direct", i, g[i], w[i])
		}
	}
	s, rep, err := Load(dir, "sequence_classification", 0)
	if err != nil || s.Kind() != task.SequenceClassification || len(rep.Missing) != 1 {
		t.Fatalf("seqcls head: %v, missing %v", err, rep.Missing)
	}
	if _, _, err := Load(dir, "question_answering", 0); err == nil || !strings.Contains(err.Error(), "gpt2 has no question_answering head") {
		t.Fatalf("QA on gpt2: %v", err)
	}
}
