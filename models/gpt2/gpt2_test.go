package gpt2

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

type headModel interface {
	Params() *nn.Params
	Forward(Batch) (Output, error)
}

// checkParity runs m on e's inputs and compares logits (rel 1e-4), loss and
// the gradient norm of every reference parameter (rel 1e-3).
func checkParity(t *testing.T, m headModel, e paritytest.Case) {
	t.Helper()
	out, err := m.Forward(Batch{InputIDs: paritytest.Ints(t, e.InputIDs), AttentionMask: paritytest.Ints(t, e.AttentionMask),
		Labels: paritytest.Ints(t, e.Labels)})
	if err != nil {
		t.Fatal(err)
	}
	paritytest.Check(t, out.Logits, nil, nil, out.Loss, m.Params(), e)
}

func TestParityLMHead(t *testing.T) {
	dir := filepath.Join("testdata", "lm")
	e := paritytest.Read(t, dir)
	m, rep, err := LoadLMHeadModel(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) != 0 {
		t.Fatalf("load report: %v", rep)
	}
	if m.Params().Get("lm_head.weight") != m.Transformer.WTE {
		t.Fatal("lm_head.weight is not tied to transformer.wte.weight")
	}
	if len(e.GradNorms)+1 != m.Params().Len() { // PyTorch lists the tied lm_head once, as wte
		t.Errorf("%d reference gradients, %d parameters", len(e.GradNorms), m.Params().Len())
	}
	checkParity(t, m, e)
}

func TestParitySequenceClassification(t *testing.T) {
	dir := filepath.Join("testdata", "seqcls")
	e := paritytest.Read(t, dir)
	c, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewForSequenceClassification(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The transformer is lm's; head.safetensors holds score.weight.
	sd, err := checkpoint.LoadFile(filepath.Join(dir, "head.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := checkpoint.Load(filepath.Join("testdata", "lm"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range base {
		sd[k] = v
	}
	rep, err := LoadState(m.Params(), sd)
	if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("load: %v %v", err, rep)
	}
	if len(e.GradNorms) != m.Params().Len() {
		t.Errorf("%d reference gradients, %d parameters", len(e.GradNorms), m.Params().Len())
	}
	checkParity(t, m, e)
}

// TestSaveLoadRoundTrip: load, save, load gives bit-identical tensors and the
// same config; the tied lm_head.weight is not written.
func TestSaveLoadRoundTrip(t *testing.T) {
	m, _, err := LoadLMHeadModel(filepath.Join("testdata", "lm"), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sd["lm_head.weight"]; ok {
		t.Error("tied lm_head.weight saved")
	}
	if len(sd) != m.Params().Len()-1 {
		t.Errorf("%d tensors saved, want %d", len(sd), m.Params().Len()-1)
	}
	m2, rep, err := LoadLMHeadModel(dir, 99) // another seed: every value must come from the file
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
	c1, c2 := m.Transformer.Config, m2.Transformer.Config
	if !reflect.DeepEqual(c1, c2) {
		t.Errorf("config changed:\n%+v\n%+v", c1, c2)
	}
	if string(c2.Extra["transformers_version"]) != `"4.44.0"` || string(c2.Extra["summary_type"]) != `"cls_index"` {
		t.Errorf("unknown keys not preserved: %v", c2.Extra)
	}
}

// TestBaseCheckpointIntoHeads: a GPT2Model checkpoint (no "transformer."
// prefix) loads into the LM head model complete (lm_head is wte) and into
// sequence classification with score.weight reported missing; the LM
// checkpoint loads into GPT2Model with nothing unexpected.
func TestBaseCheckpointIntoHeads(t *testing.T) {
	src := filepath.Join("testdata", "lm")
	base, _, err := LoadModel(src, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := base.Save(dir); err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sd["wte.weight"]; !ok || len(sd) != base.Params().Len() {
		t.Fatalf("base checkpoint keys: %d, wte.weight present %v", len(sd), ok)
	}
	lm, rep, err := LoadLMHeadModel(dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("base -> LM report %v", rep)
	}
	want, _, _ := LoadLMHeadModel(src, 1)
	for _, name := range want.Params().Names() {
		if !reflect.DeepEqual(lm.Params().Get(name).Float32s(), want.Params().Get(name).Float32s()) {
			t.Fatalf("%s differs after loading the base checkpoint", name)
		}
	}
	cls, rep, err := LoadForSequenceClassification(dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Missing, []string{"score.weight"}) || len(rep.Unexpected) != 0 {
		t.Fatalf("base -> seqcls report %v", rep)
	}
	if cls.Score.Dim(0) != 2 || cls.Score.Dim(1) != 32 {
		t.Errorf("score shape %v", cls.Score.Shape())
	}
	// Old checkpoints carry the causal-mask buffers; they are ignored.
	sd["h.0.attn.bias"] = tensor.Zeros(tensor.Float32, 1, 1, 64, 64)
	sd["h.1.attn.masked_bias"] = tensor.Scalar(tensor.Float32, -1e4)
	rep, err = LoadState(base.Params(), sd)
	if err != nil || len(rep.Unexpected)+len(rep.Missing) != 0 {
		t.Fatalf("buffers: %v %v", err, rep)
	}
}

func tinyConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.NPositions, c.NEmbd, c.NLayer, c.NHead = 50, 16, 16, 2, 2
	c.BOSTokenID, c.EOSTokenID = intp(49), intp(49)
	return c
}

func TestInitAsHF(t *testing.T) {
	c := tinyConfig()
	c.InitializerRange = 0.05
	a, err := NewLMHeadModel(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewLMHeadModel(c, 5)
	wantNames := []string{"transformer.wte.weight", "transformer.wpe.weight"}
	for i := 0; i < 2; i++ {
		for _, n := range []string{"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
			"attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
			"mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"} {
			wantNames = append(wantNames, "transformer.h."+string(rune('0'+i))+"."+n)
		}
	}
	wantNames = append(wantNames, "transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight")
	if got := a.Params().Names(); !reflect.DeepEqual(got, wantNames) {
		t.Fatalf("names\n%v\nwant\n%v", got, wantNames)
	}
	shapes := map[string][]int{"transformer.h.0.attn.c_attn.weight": {16, 48}, "transformer.h.0.attn.c_proj.weight": {16, 16},
		"transformer.h.1.mlp.c_fc.weight": {16, 64}, "transformer.h.1.mlp.c_proj.weight": {64, 16}, "transformer.wpe.weight": {16, 16}}
	for name, s := range shapes {
		if got := a.Params().Get(name).Shape(); !reflect.DeepEqual(got, s) {
			t.Errorf("%s shape %v, want %v (Conv1D: [in, out])", name, got, s)
		}
	}
	for _, name := range wantNames {
		va, vb := a.Params().Get(name).Float32s(), b.Params().Get(name).Float32s()
		if !reflect.DeepEqual(va, vb) {
			t.Fatalf("%s differs between two builds with the same seed", name)
		}
		switch {
		case strings.Contains(name, "ln_") && strings.HasSuffix(name, "weight"):
			checkAll(t, name, va, func(v float32) bool { return v == 1 })
		case strings.HasSuffix(name, "bias"):
			checkAll(t, name, va, func(v float32) bool { return v == 0 })
		default:
			want := 0.05
			if strings.HasSuffix(name, "c_proj.weight") {
				want = 0.05 / math.Sqrt(2*2) // GPT-2's scaled residual init
			}
			var ss float64
			for _, v := range va {
				ss += float64(v) * float64(v)
			}
			if std := math.Sqrt(ss / float64(len(va))); math.Abs(std-want) > 0.2*want {
				t.Errorf("%s: std %.4f, want about %.4f", name, std, want)
			}
		}
	}
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
	m, _ := NewLMHeadModel(c, 1)
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

// TestCausal: changing a later token leaves earlier positions' logits alone.
func TestCausal(t *testing.T) {
	m, _ := NewLMHeadModel(tinyConfig(), 2)
	a, _ := m.Forward(Batch{InputIDs: tensor.FromInt64([]int64{1, 2, 3, 4}, 1, 4)})
	b, _ := m.Forward(Batch{InputIDs: tensor.FromInt64([]int64{1, 2, 3, 40}, 1, 4)})
	V := tinyConfig().VocabSize
	if !reflect.DeepEqual(a.Logits.Float32s()[:3*V], b.Logits.Float32s()[:3*V]) {
		t.Error("earlier positions depend on a later token")
	}
	if reflect.DeepEqual(a.Logits.Float32s()[3*V:], b.Logits.Float32s()[3*V:]) {
		t.Error("last position ignores its own token")
	}
}

// TestSequenceClassificationPooling: the row is scored at its last non-pad
// token, so trailing padding changes nothing; no pad token means batch 1 only.
func TestSequenceClassificationPooling(t *testing.T) {
	c := tinyConfig()
	c.PadTokenID = intp(0)
	c.SetNumLabels(3)
	m, _ := NewForSequenceClassification(c, 3)
	short, err := m.Forward(Batch{InputIDs: tensor.FromInt64([]int64{4, 5, 6}, 1, 3)})
	if err != nil {
		t.Fatal(err)
	}
	padded, err := m.Forward(Batch{InputIDs: tensor.FromInt64([]int64{4, 5, 6, 0, 0, 7, 8, 9, 10, 11}, 2, 5),
		AttentionMask: tensor.FromInt64([]int64{1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, 2, 5)})
	if err != nil {
		t.Fatal(err)
	}
	if got := padded.Logits.Shape(); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Fatalf("logits shape %v", got)
	}
	for i, v := range short.Logits.Float32s() {
		if math.Abs(float64(v-padded.Logits.Float32s()[i])) > 1e-5 {
			t.Fatalf("padding changed the score: %v vs %v", short.Logits.Float32s(), padded.Logits.Float32s()[:3])
		}
	}
	c.PadTokenID = nil
	m, _ = NewForSequenceClassification(c, 3)
	if _, err := m.Forward(Batch{InputIDs: tensor.FromInt64([]int64{4, 5, 6}, 1, 3)}); err != nil {
		t.Errorf("batch 1 without pad token: %v", err)
	}
	if _, err := m.Forward(Batch{InputIDs: tensor.FromInt64([]int64{4, 5, 6, 7}, 2, 2)}); err == nil || !strings.Contains(err.Error(), "no padding token") {
		t.Errorf("batch 2 without pad token: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	m, _ := NewLMHeadModel(tinyConfig(), 1)
	for _, tc := range []struct {
		in   Batch
		want string
	}{
		{Batch{InputIDs: tensor.FromInt64([]int64{1, 50}, 1, 2)}, "input_ids[0][1] = 50 outside [0, 50)"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 17)}, "exceeds n_positions 16"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), AttentionMask: tensor.Zeros(tensor.Int64, 1, 3)}, "attention_mask"},
		{Batch{InputIDs: tensor.Zeros(tensor.Int64, 1, 2), Labels: tensor.FromInt64([]int64{5}, 1)}, "labels"},
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
	if c.NumLabels() != 3 || c.ID2Label[2] != "POS" || c.NEmbd != 32 || c.NInner != nil || c.Inner() != 128 ||
		c.LayerNormEpsilon != 1e-5 || c.ActivationFunction != "gelu_new" || c.PadTokenID == nil || *c.PadTokenID != 0 {
		t.Errorf("config %+v", c)
	}
	d := DefaultConfig()
	if d.PadTokenID != nil || *d.EOSTokenID != 50256 || !d.ScaleAttnWeights || d.Inner() != 3072 {
		t.Errorf("defaults %+v", d)
	}
	_, err = ParseConfig([]byte(`{"model_type": "bert"}`))
	if err == nil || !strings.Contains(err.Error(), `model_type "bert"`) {
		t.Errorf("bert config: %v", err)
	}
	p := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(p, []byte(`{"model_type": "llama"}`), 0o644)
	if _, err := ReadConfig(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "llama") {
		t.Errorf("error %v does not name the file and value", err)
	}
	c, err = ParseConfig([]byte(`{"model_type": "gpt2", "num_labels": 1, "problem_type": "regression", "n_inner": 40,
		"activation_function": "relu", "pad_token_id": 50256, "foo": [1, 2]}`))
	if err != nil || c.NumLabels() != 1 || c.ProblemType != "regression" || c.Inner() != 40 || *c.PadTokenID != 50256 {
		t.Fatalf("%v %+v", err, c)
	}
	b, _ := json.Marshal(c)
	c2, err := ParseConfig(b)
	if err != nil || !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip: %v\n%+v\n%+v", err, c, c2)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	if raw["n_inner"] != 40.0 || raw["foo"] == nil || raw["scale_attn_weights"] != true {
		t.Errorf("written config %s", b)
	}
	for _, bad := range []string{`{"model_type":"gpt2","activation_function":"swish"}`, `{"model_type":"gpt2","n_embd":30}`,
		`{"model_type":"gpt2","id2label":{"0":"a"},"num_labels":2}`, `{"model_type":"gpt2","problem_type":"x"}`,
		`{"model_type":"gpt2","pad_token_id":50257}`} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
