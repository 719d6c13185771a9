package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/internal/paritytest"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// TestParity runs every head on tools/modelref/bert_ref.py's fixtures: seqcls
// is a whole checkpoint; the other heads take its encoder and their own
// head.safetensors.
func TestParity(t *testing.T) {
	base, err := checkpoint.Load(filepath.Join("testdata", "seqcls"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		build func(Config) (headModel, error)
	}{
		{"seqcls", func(c Config) (headModel, error) { return NewForSequenceClassification(c, 1) }},
		{"tokcls", func(c Config) (headModel, error) { return NewForTokenClassification(c, 1) }},
		{"qa", func(c Config) (headModel, error) { return NewForQuestionAnswering(c, 1) }},
		{"mc", func(c Config) (headModel, error) { return NewForMultipleChoice(c, 1) }},
		{"mlm", func(c Config) (headModel, error) { return NewForMaskedLM(c, 1) }},
		// position_embedding_type relative_key and relative_key_query: whole
		// models, their encoder has distance_embedding tables.
		{"mlm_relkey", func(c Config) (headModel, error) { return NewForMaskedLM(c, 1) }},
		{"seqcls_relkeyquery", func(c Config) (headModel, error) { return NewForSequenceClassification(c, 1) }},
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
			rep, err := LoadState(m.Params(), paritytest.Weights(t, dir, base, "bert.", m.Params()))
			if err != nil || len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) != 0 {
				t.Fatalf("load: %v %v", err, rep)
			}
			out, err := m.Forward(Batch{InputIDs: paritytest.Ints(t, e.InputIDs), TokenTypeIDs: paritytest.Ints(t, e.TokenTypeIDs),
				AttentionMask: paritytest.Ints(t, e.AttentionMask), Labels: paritytest.Ints(t, e.Labels),
				StartPositions: paritytest.Ints(t, e.Start), EndPositions: paritytest.Ints(t, e.End)})
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "seqcls" && !strings.Contains(out.Explanation.String(), "cross_entropy") {
				t.Errorf("explanation %q does not name cross_entropy", out.Explanation)
			}
			paritytest.Check(t, out.Logits, out.StartLogits, out.EndLogits, out.Loss, m.Params(), e)
		})
	}
}

type headModel interface {
	Params() *nn.Params
	Forward(Batch) (Output, error)
}

// TestSaveLoadRoundTrip: load, save, load gives bit-identical tensors and the same config.
func TestSaveLoadRoundTrip(t *testing.T) {
	m, _, err := LoadForSequenceClassification(filepath.Join("testdata", "seqcls"), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	m2, rep, err := LoadForSequenceClassification(dir, 99) // another seed: every value must come from the file
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("report %v", rep)
	}
	for _, name := range m.Params().Names() {
		a, b := m.Params().Get(name).Float32s(), m2.Params().Get(name).Float32s()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d]: %v after round trip, want %v", name, i, b[i], a[i])
			}
		}
	}
	c1, c2 := m.Bert.Config, m2.Bert.Config
	c1.Architectures = []string{"BertForSequenceClassification"}
	if !reflect.DeepEqual(c1, c2) {
		t.Errorf("config changed:\n%+v\n%+v", c1, c2)
	}
	if string(c2.Extra["transformers_version"]) != `"4.44.0"` {
		t.Errorf("unknown key not preserved: %v", c2.Extra)
	}
}

// TestBaseCheckpointIntoHead: a BertModel checkpoint (no "bert." prefix) loads
// into the classifier; the new head is initialised and reported missing.
func TestBaseCheckpointIntoHead(t *testing.T) {
	src := filepath.Join("testdata", "seqcls")
	sd, err := checkpoint.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	base := checkpoint.StateDict{}
	for k, v := range sd {
		if rest, ok := strings.CutPrefix(k, "bert."); ok {
			base[rest] = v
		}
	}
	dir := t.TempDir()
	if _, err := checkpoint.Save(dir, base, checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	m, rep, err := LoadForSequenceClassification(dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"classifier.bias", "classifier.weight"}; !reflect.DeepEqual(rep.Missing, want) || len(rep.Unexpected) != 0 {
		t.Fatalf("report %v, want missing %v", rep, want)
	}
	if got, want := m.Params().Get("bert.pooler.dense.bias").Float32s()[3], sd["bert.pooler.dense.bias"].Float32s()[3]; got != want {
		t.Errorf("pooler bias not loaded: %v, want %v", got, want)
	}
	for _, v := range m.Classifier.Bias.Float32s() {
		if v != 0 {
			t.Fatalf("new classifier bias not zero-initialised: %v", m.Classifier.Bias)
		}
	}
}

func tinyConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads = 50, 16, 1, 2
	c.IntermediateSize, c.MaxPositionEmbeddings = 32, 16
	c.PadTokenID = 3
	return c
}

func TestInitAsHF(t *testing.T) {
	c := tinyConfig()
	a, err := NewForSequenceClassification(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewForSequenceClassification(c, 5)
	wantNames := []string{"bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
		"bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
		"bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.0.attention.self.query.bias",
		"bert.encoder.layer.0.attention.self.key.weight", "bert.encoder.layer.0.attention.self.key.bias",
		"bert.encoder.layer.0.attention.self.value.weight", "bert.encoder.layer.0.attention.self.value.bias",
		"bert.encoder.layer.0.attention.output.dense.weight", "bert.encoder.layer.0.attention.output.dense.bias",
		"bert.encoder.layer.0.attention.output.LayerNorm.weight", "bert.encoder.layer.0.attention.output.LayerNorm.bias",
		"bert.encoder.layer.0.intermediate.dense.weight", "bert.encoder.layer.0.intermediate.dense.bias",
		"bert.encoder.layer.0.output.dense.weight", "bert.encoder.layer.0.output.dense.bias",
		"bert.encoder.layer.0.output.LayerNorm.weight", "bert.encoder.layer.0.output.LayerNorm.bias",
		"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"}
	if got := a.Params().Names(); !reflect.DeepEqual(got, wantNames) {
		t.Fatalf("names\n%v\nwant\n%v", got, wantNames)
	}
	for _, name := range wantNames {
		va, vb := a.Params().Get(name).Float32s(), b.Params().Get(name).Float32s()
		if !reflect.DeepEqual(va, vb) {
			t.Fatalf("%s differs between two builds with the same seed", name)
		}
		switch {
		case strings.HasSuffix(name, "LayerNorm.weight"):
			checkAll(t, name, va, func(v float32) bool { return v == 1 })
		case strings.HasSuffix(name, "bias"):
			checkAll(t, name, va, func(v float32) bool { return v == 0 })
		default: // normal(0, initializer_range)
			var ss float64
			for _, v := range va {
				ss += float64(v) * float64(v)
			}
			if std := math.Sqrt(ss / float64(len(va))); std < 0.01 || std > 0.03 {
				t.Errorf("%s: std %.4f, want about 0.02", name, std)
			}
		}
	}
	w := a.Bert.Embeddings.WordEmbeddings.Float32s()
	checkAll(t, "padding row", w[c.PadTokenID*c.HiddenSize:(c.PadTokenID+1)*c.HiddenSize], func(v float32) bool { return v == 0 })
}

func checkAll(t *testing.T, name string, vs []float32, ok func(float32) bool) {
	t.Helper()
	for i, v := range vs {
		if !ok(v) {
			t.Fatalf("%s[%d] = %v", name, i, v)
		}
	}
}

func TestDropoutOnlyInTraining(t *testing.T) {
	c := tinyConfig()
	c.HiddenDropoutProb, c.AttentionProbsDropoutProb = 0.3, 0.3
	m, _ := NewForSequenceClassification(c, 1)
	in := Batch{InputIDs: tensor.FromInt64([]int64{1, 5, 7, 9, 2, 8, 4, 6}, 2, 4)}
	run := func() []float32 {
		out, err := m.Forward(in)
		if err != nil {
			t.Fatal(err)
		}
		return out.Logits.Float32s()
	}
	e1, e2 := run(), run()
	if !reflect.DeepEqual(e1, e2) {
		t.Fatal("evaluation is not deterministic")
	}
	m.Train(true)
	if tr := run(); reflect.DeepEqual(tr, e1) {
		t.Fatal("training forward equals evaluation: no dropout")
	}
	m.Train(false)
	if !reflect.DeepEqual(run(), e1) {
		t.Fatal("evaluation changed after training")
	}
}

func TestBadInput(t *testing.T) {
	m, _ := NewForSequenceClassification(tinyConfig(), 1)
	for _, tc := range []struct {
		in   Batch
		want string
	}{
		{Batch{InputIDs: tensor.FromInt64([]int64{1, 50}, 1, 2)}, "input_ids[0][1] = 50 outside [0, 50)"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 17)}, "exceeds max_position_embeddings 16"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), TokenTypeIDs: tensor.FromInt64([]int64{0, 2}, 1, 2)}, "token_type_ids[0][1] = 2"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), AttentionMask: tensor.Zeros(tensor.Int64, 1, 3)}, "attention_mask"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), Labels: tensor.FromInt64([]int64{5}, 1)}, "5"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), PositionIDs: tensor.FromInt64([]int64{0, 16}, 1, 2)}, "position_ids[0][1] = 16 outside [0, 16)"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), PositionIDs: tensor.Zeros(tensor.Int64, 2, 2)}, "position_ids [2 2] must be int64 [1 2]"},
	} {
		if _, err := m.Forward(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	c, err := ReadConfig(filepath.Join("testdata", "seqcls"))
	if err != nil {
		t.Fatal(err)
	}
	if c.NumLabels() != 3 || c.ID2Label[2] != "POS" || c.HiddenSize != 32 || c.LayerNormEps != 1e-12 || c.HiddenAct != "gelu" {
		t.Errorf("config %+v", c)
	}
	_, err = ParseConfig([]byte(`{"model_type": "gpt2"}`))
	if err == nil || !strings.Contains(err.Error(), `model_type "gpt2"`) {
		t.Errorf("gpt2 config: %v", err)
	}
	p := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(p, []byte(`{"model_type": "roberta"}`), 0o644)
	if _, err := ReadConfig(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "roberta") {
		t.Errorf("error %v does not name the file and value", err)
	}
	c, err = ParseConfig([]byte(`{"model_type": "bert", "num_labels": 1, "problem_type": "regression", "hidden_act": "relu", "foo": [1, 2]}`))
	if err != nil || c.NumLabels() != 1 || c.ProblemType != "regression" {
		t.Fatalf("%v %+v", err, c)
	}
	b, _ := json.Marshal(c)
	c2, err := ParseConfig(b)
	if err != nil || !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip: %v\n%+v\n%+v", err, c, c2)
	}
	for _, bad := range []string{`{"model_type":"bert","hidden_act":"swish"}`, `{"model_type":"bert","hidden_size":30}`,
		`{"model_type":"bert","id2label":{"0":"a"},"num_labels":2}`, `{"model_type":"bert","problem_type":"x"}`} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestPositionIDs: explicit position_ids 0..T-1 are the default; others
// change the output.
func TestPositionIDs(t *testing.T) {
	m, _ := NewForSequenceClassification(tinyConfig(), 1)
	ids := tensor.FromInt64([]int64{1, 5, 7, 9, 2, 8, 4, 6}, 2, 4)
	run := func(pos []int64) []float32 {
		in := Batch{InputIDs: ids}
		if pos != nil {
			in.PositionIDs = tensor.FromInt64(pos, 2, 4)
		}
		out, err := m.Forward(in)
		if err != nil {
			t.Fatal(err)
		}
		return out.Logits.Float32s()
	}
	def := run(nil)
	if got := run([]int64{0, 1, 2, 3, 0, 1, 2, 3}); !reflect.DeepEqual(got, def) {
		t.Errorf("position_ids 0..T-1: %v, default %v", got, def)
	}
	if got := run([]int64{5, 6, 7, 8, 0, 1, 2, 3}); reflect.DeepEqual(got, def) {
		t.Error("other position_ids do not change the logits")
	}
}

// TestPositionIDsFromInputIDs: RoBERTa's positions, padding on either side.
func TestPositionIDsFromInputIDs(t *testing.T) {
	ids := tensor.FromInt64([]int64{
		0, 5, 6, 2, 1, 1, // right padding
		1, 1, 0, 7, 2, 1, // left and right
		0, 1, 8, 2, 9, 3, // a pad id in the middle is skipped too
	}, 3, 6)
	want := []int64{
		2, 3, 4, 5, 1, 1,
		1, 1, 2, 3, 4, 1,
		2, 1, 3, 4, 5, 6,
	}
	if got := PositionIDsFromInputIDs(ids, 1).Int64s(); !reflect.DeepEqual(got, want) {
		t.Errorf("PositionIDs\n%v\nwant\n%v", got, want)
	}
}

// LMPositions computes the masked-LM head at the labelled tokens only: the
// loss and every gradient equal the full computation's.
func TestMaskedLMPositionsMatchFullLogits(t *testing.T) {
	c := DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.MaxPositionEmbeddings = 40, 8, 1, 2, 16, 16
	ids := tensor.FromInt64([]int64{2, 5, 7, 9, 11, 3, 4, 8, 10, 12}, 2, 5)
	labels := []int64{-100, 5, -100, -100, 11, 3, -100, -100, 10, -100}
	run := func(positions bool) (float64, map[string][]float32) {
		m, err := NewForMaskedLM(c, 7)
		if err != nil {
			t.Fatal(err)
		}
		in := Batch{InputIDs: ids, Labels: tensor.FromInt64(labels, 2, 5)}
		if positions {
			in.LMPositions = tensor.FromInt64([]int64{1, 4, 5, 8}, 4)
		}
		out, err := m.Forward(in)
		if err != nil {
			t.Fatal(err)
		}
		if positions && !equalShape(out.Logits.Shape(), []int{1, 4, 40}) {
			t.Fatalf("logits %v, want [1 4 40]", out.Logits.Shape())
		}
		out.Loss.Backward()
		g := map[string][]float32{}
		for _, n := range m.Params().Names() {
			if gr := m.Params().Get(n).Grad(); gr != nil {
				g[n] = gr.Float32s()
			}
		}
		return out.Loss.Item(), g
	}
	lf, gf := run(false)
	lp, gp := run(true)
	if math.Abs(lf-lp) > 1e-6*math.Abs(lf) {
		t.Fatalf("loss %v with positions, %v without", lp, lf)
	}
	for n, a := range gf {
		b := gp[n]
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-5*(math.Abs(float64(a[i]))+1e-3) {
				t.Fatalf("%s[%d]: grad %v with positions, %v without", n, i, b[i], a[i])
			}
		}
	}
}

func equalShape(a, b []int) bool {
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
