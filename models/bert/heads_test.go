package bert

import (
	"testing"

	"github.com/kiln-ml/kiln/checkpoint"
)

// TestMaskedLMTiedSave: the decoder is the word-embedding tensor, left out on
// save as HF does, and tied again on load.
func TestMaskedLMTiedSave(t *testing.T) {
	m, _ := NewForMaskedLM(tinyConfig(), 3)
	if m.Params().Get("cls.predictions.decoder.weight") != m.Bert.Embeddings.WordEmbeddings {
		t.Fatal("decoder not tied to word embeddings")
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range mlmTied {
		if _, ok := sd[k]; ok {
			t.Errorf("tied key %s saved", k)
		}
	}
	m2, rep, err := LoadForMaskedLM(dir, 4)
	if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("%v %v", err, rep)
	}
	if got, want := m2.Bert.Embeddings.WordEmbeddings.Float32s()[5], m.Bert.Embeddings.WordEmbeddings.Float32s()[5]; got != want {
		t.Errorf("word embeddings not loaded")
	}
}
