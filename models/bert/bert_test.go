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
	"github.com/kiln-ml/kiln/tensor"
)

// expected is tools/modelref/bert_ref.py's expected.json.
type expected struct {
	InputIDs      [][]int64          `json:"input_ids"`
	TokenTypeIDs  [][]int64          `json:"token_type_ids"`
	AttentionMask [][]int64          `json:"attention_mask"`
	Labels        []int64            `json:"labels"`
	Logits        [][]float64        `json:"logits"`
	Loss          float64            `json:"loss"`
	GradNorms     map[string]float64 `json:"grad_norms"`
}

func readExpected(t *testing.T, dir string) expected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func int2D(rows [][]int64) *tensor.Tensor {
	var flat []int64
	for _, r := range rows {
		flat = append(flat, r...)
	}
	return tensor.FromInt64(flat, len(rows), len(rows[0]))
}

// relErr is |got-want| / max(|want|, floor): relative, with a floor so that
// values near zero are compared absolutely.
func relErr(got, want, floor float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), floor)
}

func TestParitySequenceClassification(t *testing.T) {
	dir := filepath.Join("testdata", "seqcls")
	e := readExpected(t, dir)
	m, rep, err := LoadForSequenceClassification(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) != 0 {
		t.Fatalf("load report: %v", rep)
	}
	out, err := m.Forward(Batch{InputIDs: int2D(e.InputIDs), TokenTypeIDs: int2D(e.TokenTypeIDs),
		AttentionMask: int2D(e.AttentionMask), Labels: tensor.FromInt64(e.Labels, len(e.Labels))})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Logits.Shape(); !reflect.DeepEqual(got, []int{len(e.Logits), len(e.Logits[0])}) {
		t.Fatalf("logits shape %v", got)
	}
	worst := 0.0
	for i, row := range e.Logits {
		for j, want := range row {
			got := float64(out.Logits.Float32s()[i*len(row)+j])
			worst = math.Max(worst, relErr(got, want, 1e-2))
		}
	}
	if worst > 1e-4 {
		t.Errorf("logits: worst relative error %.2e > 1e-4", worst)
	}
	if r := relErr(out.Loss.Item(), e.Loss, 1e-6); r > 1e-4 {
		t.Errorf("loss %.7f, want %.7f (rel %.2e)", out.Loss.Item(), e.Loss, r)
	}
	if !strings.Contains(out.Explanation.String(), "cross_entropy") {
		t.Errorf("explanation %q does not name cross_entropy", out.Explanation)
	}
	out.Loss.Backward()
	params := m.Params()
	if len(e.GradNorms) != params.Len() {
		t.Errorf("%d reference gradients, %d parameters", len(e.GradNorms), params.Len())
	}
	worstG, worstName := 0.0, ""
	for name, want := range e.GradNorms {
		p := params.Get(name)
		if p == nil {
			t.Errorf("no parameter %s", name)
			continue
		}
		got := 0.0
		if g := p.Grad(); g != nil {
			for _, v := range g.Float32s() {
				got += float64(v) * float64(v)
			}
			got = math.Sqrt(got)
		}
		if r := relErr(got, want, 1e-6); r > worstG {
			worstG, worstName = r, name
		}
	}
	if worstG > 1e-3 {
		t.Errorf("gradient norms: worst relative error %.2e (%s) > 1e-3", worstG, worstName)
	}
	t.Logf("logits rel %.1e, loss %.7f vs %.7f, grad-norm rel %.1e (%s)", worst, out.Loss.Item(), e.Loss, worstG, worstName)
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
