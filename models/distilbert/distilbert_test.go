package distilbert

import (
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/internal/paritytest"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

type head interface {
	Params() *nn.Params
	Forward(Batch) (Output, error)
}

// TestParity runs every head on tools/modelref/distilbert_ref.py's fixtures:
// seqcls is a whole checkpoint written by torch.save (pytorch_model.bin);
// the other heads take its encoder and their own head.safetensors.
func TestParity(t *testing.T) {
	base, err := checkpoint.Load(filepath.Join("testdata", "seqcls"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		build func(Config) (head, error)
	}{
		{"seqcls", func(c Config) (head, error) { return NewForSequenceClassification(c, 1) }},
		{"tokcls", func(c Config) (head, error) { return NewForTokenClassification(c, 1) }},
		{"qa", func(c Config) (head, error) { return NewForQuestionAnswering(c, 1) }},
		{"mc", func(c Config) (head, error) { return NewForMultipleChoice(c, 1) }},
		{"mlm", func(c Config) (head, error) { return NewForMaskedLM(c, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			e := paritytest.Read(t, dir)
			c, err := ReadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := tc.build(c)
			if err != nil {
				t.Fatal(err)
			}
			sd := paritytest.Weights(t, dir, base, "distilbert.", m.Params())
			rep, err := LoadState(m.Params(), sd)
			if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
				t.Fatalf("load: %v %v", err, rep)
			}
			out, err := m.Forward(Batch{InputIDs: paritytest.Ints(t, e.InputIDs), AttentionMask: paritytest.Ints(t, e.AttentionMask),
				Labels: paritytest.Ints(t, e.Labels), StartPositions: paritytest.Ints(t, e.Start), EndPositions: paritytest.Ints(t, e.End)})
			if err != nil {
				t.Fatal(err)
			}
			paritytest.Check(t, out.Logits, out.StartLogits, out.EndLogits, out.Loss, m.Params(), e)
		})
	}
}

// TestSaveLoadRoundTrip: pytorch_model.bin in, model.safetensors out, and
// loading that gives bit-identical tensors and the same config.
func TestSaveLoadRoundTrip(t *testing.T) {
	m, rep, err := LoadForSequenceClassification(filepath.Join("testdata", "seqcls"), 1)
	if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("%v %v", err, rep)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	m2, rep, err := LoadForSequenceClassification(dir, 99) // another seed: every value must come from the file
	if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("%v %v", err, rep)
	}
	for _, name := range m.Params().Names() {
		a, b := m.Params().Get(name).Float32s(), m2.Params().Get(name).Float32s()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d]: %v after round trip, want %v", name, i, b[i], a[i])
			}
		}
	}
	if !reflect.DeepEqual(m.DistilBert.Config, m2.DistilBert.Config) {
		t.Errorf("config changed:\n%+v\n%+v", m.DistilBert.Config, m2.DistilBert.Config)
	}
	if c := m2.DistilBert.Config; c.NumLabels() != 3 || c.ID2Label[2] != "POS" || string(c.Extra["tie_weights_"]) != "true" {
		t.Errorf("config %+v", c)
	}
	// The masked LM leaves its tied projector weight out, keeps its bias,
	// and ties the weight again on load.
	mlm, _ := NewForMaskedLM(tinyConfig(), 3)
	if err := mlm.Save(dir); err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sd["vocab_projector.weight"]; ok {
		t.Error("tied vocab_projector.weight saved")
	}
	if _, ok := sd["vocab_projector.bias"]; !ok {
		t.Error("vocab_projector.bias not saved")
	}
	mlm2, rep, err := LoadForMaskedLM(dir, 4)
	if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("%v %v", err, rep)
	}
	if mlm2.Params().Get("vocab_projector.weight") != mlm2.DistilBert.Embeddings.WordEmbeddings {
		t.Error("vocab_projector.weight not tied after load")
	}
}

func tinyConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.Dim, c.NLayers, c.NHeads, c.HiddenDim, c.MaxPositionEmbeddings = 50, 16, 1, 2, 32, 16
	return c
}

// TestInit: HF names and init, the padding row zero, two builds with one seed
// the same.
func TestInit(t *testing.T) {
	c := tinyConfig()
	a, err := NewForSequenceClassification(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewForSequenceClassification(c, 5)
	want := []string{"distilbert.embeddings.word_embeddings.weight", "distilbert.embeddings.position_embeddings.weight",
		"distilbert.embeddings.LayerNorm.weight", "distilbert.embeddings.LayerNorm.bias",
		"distilbert.transformer.layer.0.attention.q_lin.weight", "distilbert.transformer.layer.0.attention.q_lin.bias",
		"distilbert.transformer.layer.0.attention.k_lin.weight", "distilbert.transformer.layer.0.attention.k_lin.bias",
		"distilbert.transformer.layer.0.attention.v_lin.weight", "distilbert.transformer.layer.0.attention.v_lin.bias",
		"distilbert.transformer.layer.0.attention.out_lin.weight", "distilbert.transformer.layer.0.attention.out_lin.bias",
		"distilbert.transformer.layer.0.sa_layer_norm.weight", "distilbert.transformer.layer.0.sa_layer_norm.bias",
		"distilbert.transformer.layer.0.ffn.lin1.weight", "distilbert.transformer.layer.0.ffn.lin1.bias",
		"distilbert.transformer.layer.0.ffn.lin2.weight", "distilbert.transformer.layer.0.ffn.lin2.bias",
		"distilbert.transformer.layer.0.output_layer_norm.weight", "distilbert.transformer.layer.0.output_layer_norm.bias",
		"pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"}
	if got := a.Params().Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("names\n%v\nwant\n%v", got, want)
	}
	for _, name := range want {
		if !reflect.DeepEqual(a.Params().Get(name).Float32s(), b.Params().Get(name).Float32s()) {
			t.Fatalf("%s differs between two builds with the same seed", name)
		}
	}
	if v := a.Params().Get("pre_classifier.bias").Float32s()[0]; v != 0 {
		t.Errorf("bias init %v", v)
	}
	if v := a.Params().Get("distilbert.transformer.layer.0.sa_layer_norm.weight").Float32s()[0]; v != 1 {
		t.Errorf("layer norm init %v", v)
	}
	w := a.DistilBert.Embeddings.WordEmbeddings.Float32s()
	for _, v := range w[c.PadTokenID*c.Dim : (c.PadTokenID+1)*c.Dim] {
		if v != 0 {
			t.Fatal("padding row not zero")
		}
	}
}

func TestDropoutOnlyInTraining(t *testing.T) {
	c := tinyConfig()
	c.Dropout, c.AttentionDropout, c.SeqClassifDropout = 0.3, 0.3, 0.3
	m, _ := NewForSequenceClassification(c, 1)
	in := Batch{InputIDs: tensor.FromInt64([]int64{1, 5, 7, 9, 2, 8, 4, 6}, 2, 4)}
	run := func() []float32 {
		out, err := m.Forward(in)
		if err != nil {
			t.Fatal(err)
		}
		return out.Logits.Float32s()
	}
	e1 := run()
	if !reflect.DeepEqual(run(), e1) {
		t.Fatal("evaluation is not deterministic")
	}
	m.Train(true)
	if reflect.DeepEqual(run(), e1) {
		t.Fatal("training forward equals evaluation: no dropout")
	}
	m.Train(false)
	if !reflect.DeepEqual(run(), e1) {
		t.Fatal("evaluation changed after training")
	}
}

func TestBadInputAndConfig(t *testing.T) {
	m, _ := NewForSequenceClassification(tinyConfig(), 1)
	for _, tc := range []struct {
		in   Batch
		want string
	}{
		{Batch{InputIDs: tensor.FromInt64([]int64{1, 50}, 1, 2)}, "distilbert: input_ids[0][1] = 50 outside [0, vocab_size 50)"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 17)}, "exceeds max_position_embeddings 16"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), AttentionMask: tensor.Zeros(tensor.Int64, 1, 3)}, "attention_mask [1 3] must be [1 2]"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 2)}, "input_ids must be an int64 [batch, seq] tensor"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), Labels: tensor.FromInt64([]int64{5}, 1)}, "5"},
	} {
		if _, err := m.Forward(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
	mc, _ := NewForMultipleChoice(tinyConfig(), 1)
	if _, err := mc.Forward(Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2, 3), AttentionMask: tensor.Zeros(tensor.Int64, 1, 3)}); err == nil ||
		!strings.Contains(err.Error(), "multiple choice attention_mask [1 3] must be [1 2 3]") {
		t.Errorf("multiple choice mask: %v", err)
	}
	c := tinyConfig()
	c.SetNumLabels(3)
	if _, err := NewForQuestionAnswering(c, 1); err == nil || !strings.Contains(err.Error(), "num_labels 2") {
		t.Errorf("question answering with 3 labels: %v", err)
	}

	d := DefaultConfig()
	if d.Dim != 768 || d.NLayers != 6 || d.HiddenDim != 3072 || d.SeqClassifDropout != 0.2 || d.NumLabels() != 2 {
		t.Errorf("defaults %+v", d)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "bert"}`, `model_type "bert" is not "distilbert"`},
		{`{"model_type": "distilbert", "sinusoidal_pos_embds": true}`, "sinusoidal_pos_embds true is not supported"},
		{`{"model_type": "distilbert", "dim": 30}`, "dim 30 is not a multiple of n_heads 12"},
		{`{"model_type": "distilbert", "activation": "swish"}`, `activation "swish"`},
		{`{"model_type": "distilbert", "n_layers": "6"}`, "n_layers: json"},
	} {
		if _, err := ParseConfig([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.json, err, tc.want)
		}
	}
	if _, err := ReadConfig(filepath.Join("testdata", "nonexistent")); err == nil {
		t.Error("no error for a missing config")
	}
}
