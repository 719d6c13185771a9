package roberta

import (
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/models/internal/paritytest"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

type head interface {
	Params() *nn.Params
	Forward(Batch) (Output, error)
}

// TestParity runs every head on tools/modelref/roberta_ref.py's fixtures: mc
// is a whole checkpoint; the other heads take mc's encoder and their own
// head.safetensors.
func TestParity(t *testing.T) {
	base, err := checkpoint.Load(filepath.Join("testdata", "mc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		build func(Config) (head, error)
	}{
		{"mc", func(c Config) (head, error) { return NewForMultipleChoice(c, 1) }},
		{"seqcls", func(c Config) (head, error) { return NewForSequenceClassification(c, 1) }},
		{"tokcls", func(c Config) (head, error) { return NewForTokenClassification(c, 1) }},
		{"qa", func(c Config) (head, error) { return NewForQuestionAnswering(c, 1) }},
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
			sd := paritytest.Weights(t, dir, base, "roberta.", m.Params())
			rep, err := LoadState(m.Params(), sd)
			if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
				t.Fatalf("load: %v %v", err, rep)
			}
			in := Batch{InputIDs: paritytest.Ints(t, e.InputIDs), TokenTypeIDs: paritytest.Ints(t, e.TokenTypeIDs),
				AttentionMask: paritytest.Ints(t, e.AttentionMask), Labels: paritytest.Ints(t, e.Labels),
				StartPositions: paritytest.Ints(t, e.Start), EndPositions: paritytest.Ints(t, e.End)}
			out, err := m.Forward(in)
			if err != nil {
				t.Fatal(err)
			}
			paritytest.Check(t, out.Logits, out.StartLogits, out.EndLogits, out.Loss, m.Params(), e)
		})
	}
}

func tinyConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads = 50, 16, 1, 2
	c.IntermediateSize, c.MaxPositionEmbeddings, c.TypeVocabSize = 32, 10, 1
	return c
}

// TestInit: HF names under "roberta.", the padding rows of the word and
// position embeddings zero, no pooler but in multiple choice.
func TestInit(t *testing.T) {
	c := tinyConfig()
	m, err := NewForSequenceClassification(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	names := m.Params().Names()
	for _, want := range []string{"roberta.embeddings.position_embeddings.weight", "roberta.encoder.layer.0.attention.self.query.weight",
		"classifier.dense.weight", "classifier.out_proj.bias"} {
		if m.Params().Get(want) == nil {
			t.Errorf("no %s in %v", want, names)
		}
	}
	for _, n := range names {
		if strings.Contains(n, "pooler") {
			t.Errorf("sequence classification has %s; HF builds it without the pooler", n)
		}
	}
	e := m.Roberta.Embeddings
	for _, w := range []*tensor.Tensor{e.WordEmbeddings, e.PositionEmbeddings} {
		row := w.Float32s()[c.PadTokenID*c.HiddenSize : (c.PadTokenID+1)*c.HiddenSize]
		for _, v := range row {
			if v != 0 {
				t.Fatalf("padding row not zero: %v", row)
			}
		}
	}
	mc, _ := NewForMultipleChoice(c, 5)
	if mc.Params().Get("roberta.pooler.dense.weight") == nil {
		t.Error("multiple choice has no pooler")
	}
	mlm, _ := NewForMaskedLM(c, 5)
	if mlm.Params().Get("lm_head.decoder.weight") != mlm.Roberta.Embeddings.WordEmbeddings ||
		mlm.Params().Get("lm_head.decoder.bias") != mlm.LMHead.Bias {
		t.Error("lm_head.decoder not tied to the word embeddings and lm_head.bias")
	}
}

// TestPaddingGetsNoGradient: RoBERTa's padding rows (word and position) take
// no gradient even where a pad token's output reaches the loss.
func TestPaddingGetsNoGradient(t *testing.T) {
	c := tinyConfig()
	m, _ := NewForTokenClassification(c, 2)
	ids := tensor.FromInt64([]int64{1, 1, 0, 5, 7, 2}, 1, 6) // left padding, no attention mask
	out, err := m.Forward(Batch{InputIDs: ids, Labels: tensor.FromInt64([]int64{1, 0, 1, 0, 1, 0}, 1, 6)})
	if err != nil {
		t.Fatal(err)
	}
	out.Loss.Backward()
	e, H := m.Roberta.Embeddings, c.HiddenSize
	for _, w := range []*tensor.Tensor{e.WordEmbeddings, e.PositionEmbeddings} {
		g := w.Grad().Float32s()
		for _, v := range g[c.PadTokenID*H : (c.PadTokenID+1)*H] {
			if v != 0 {
				t.Fatal("padding row has a gradient")
			}
		}
		if g[(c.PadTokenID+1)*H] == 0 && g[(c.PadTokenID+1)*H+1] == 0 {
			t.Fatal("row after the padding row has no gradient")
		}
	}
}

// TestSaveLoadRoundTrip: load, save, load gives bit-identical tensors and the
// same config, unknown keys (bos/eos ids) kept.
func TestSaveLoadRoundTrip(t *testing.T) {
	m, rep, err := LoadForMultipleChoice(filepath.Join("testdata", "mc"), 1)
	if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("%v %v", err, rep)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	m2, rep, err := LoadForMultipleChoice(dir, 99) // another seed: every value must come from the file
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
	if !reflect.DeepEqual(m.Roberta.Config, m2.Roberta.Config) {
		t.Errorf("config changed:\n%+v\n%+v", m.Roberta.Config, m2.Roberta.Config)
	}
	if c := m2.Roberta.Config; c.ModelType != "roberta" || string(c.Extra["bos_token_id"]) != "0" || c.LayerNormEps != 1e-5 {
		t.Errorf("config %+v", c)
	}
	// The masked LM leaves its tied decoder out and ties it again on load.
	mlm, _ := NewForMaskedLM(tinyConfig(), 3)
	if err := mlm.Save(dir); err != nil {
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
	mlm2, rep, err := LoadForMaskedLM(dir, 4)
	if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("%v %v", err, rep)
	}
	if mlm2.Params().Get("lm_head.decoder.weight") != mlm2.Roberta.Embeddings.WordEmbeddings {
		t.Error("decoder not tied after load")
	}
}

// TestBaseCheckpointIntoHead: a checkpoint of another head loads into a new
// head: the encoder is shared, the new head is reported missing and the old
// one (and the pooler a sequence classifier lacks) unexpected.
func TestBaseCheckpointIntoHead(t *testing.T) {
	m, rep, err := LoadForSequenceClassification(filepath.Join("testdata", "mc"), 7)
	if err != nil {
		t.Fatal(err)
	}
	wantMissing := []string{"classifier.dense.bias", "classifier.dense.weight", "classifier.out_proj.bias", "classifier.out_proj.weight"}
	wantUnexpected := []string{"classifier.bias", "classifier.weight", "roberta.pooler.dense.bias", "roberta.pooler.dense.weight"}
	if !reflect.DeepEqual(rep.Missing, wantMissing) || !reflect.DeepEqual(rep.Unexpected, wantUnexpected) {
		t.Fatalf("report %v", rep)
	}
	if m.Roberta.Pooler != nil {
		t.Error("sequence classifier got a pooler")
	}
	base, _, err := LoadModel(filepath.Join("testdata", "mc"), 7)
	if err != nil {
		t.Fatal(err)
	}
	if base.Params().Get("pooler.dense.weight") == nil || base.Params().Get("roberta.pooler.dense.weight") != nil {
		t.Errorf("RobertaModel names: %v", base.Params().Names())
	}
}

func TestBadInputAndConfig(t *testing.T) {
	m, _ := NewForSequenceClassification(tinyConfig(), 1)
	for _, tc := range []struct {
		in   Batch
		want string
	}{
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 9)}, "roberta: sequence length 9 exceeds 8 (max_position_embeddings 10 less padding_idx 1 + 1"},
		{Batch{InputIDs: tensor.FromInt64([]int64{0, 50}, 1, 2)}, "roberta: input_ids[0][1] = 50 outside [0, 50)"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), TokenTypeIDs: tensor.FromInt64([]int64{0, 1}, 1, 2)}, "roberta: token_type_ids[0][1] = 1"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 2)}, "roberta: input_ids must be an int64 [batch, seq] tensor"},
	} {
		if _, err := m.Forward(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
	mc, _ := NewForMultipleChoice(tinyConfig(), 1)
	if _, err := mc.Forward(Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2)}); err == nil || !strings.Contains(err.Error(), "roberta: multiple choice input_ids") {
		t.Errorf("multiple choice on [B, T]: %v", err)
	}

	c, err := ReadConfig(filepath.Join("testdata", "seqcls"))
	if err != nil || c.NumLabels() != 3 || c.PadTokenID != 1 || c.MaxPositionEmbeddings != 40 || c.TypeVocabSize != 1 {
		t.Errorf("config %+v, %v", c, err)
	}
	if d := DefaultConfig(); d.VocabSize != 50265 || d.PadTokenID != 1 || d.ModelType != "roberta" {
		t.Errorf("defaults %+v", d)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "bert"}`, `model_type "bert" is not "roberta"`},
		{`{"model_type": "roberta", "hidden_act": "swish"}`, `roberta: hidden_act "swish"`},
	} {
		if _, err := ParseConfig([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.json, err, tc.want)
		}
	}
	if _, err := bert.ParseConfig([]byte(`{"model_type": "roberta"}`)); err == nil {
		t.Error("bert accepts a roberta config")
	}
	bad := tinyConfig()
	bad.MaxPositionEmbeddings = 2
	if _, err := NewModel(bad, 1); err == nil || !strings.Contains(err.Error(), "no position after pad_token_id") {
		t.Errorf("max_position_embeddings 2: %v", err)
	}
	if _, err := NewModel(bert.DefaultConfig(), 1); err == nil || !strings.Contains(err.Error(), `model_type "bert"`) {
		t.Errorf("a BERT config: %v", err)
	}
}
