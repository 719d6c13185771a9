package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// headCase is a head fixture: the encoder is seqcls's, the head's own tensors
// are in head.safetensors.
type headCase struct {
	InputIDs      json.RawMessage    `json:"input_ids"`
	TokenTypeIDs  json.RawMessage    `json:"token_type_ids"`
	AttentionMask json.RawMessage    `json:"attention_mask"`
	Labels        json.RawMessage    `json:"labels"`
	Start         []int64            `json:"start_positions"`
	End           []int64            `json:"end_positions"`
	Logits        any                `json:"logits"`
	Loss          float64            `json:"loss"`
	GradNorms     map[string]float64 `json:"grad_norms"`
}

// ints decodes nested int lists into an int64 tensor of their shape.
func ints(t *testing.T, raw json.RawMessage) *tensor.Tensor {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var flat []int64
	var shape []int
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if l, ok := v.([]any); ok {
			if depth == len(shape) {
				shape = append(shape, len(l))
			}
			for _, x := range l {
				walk(x, depth+1)
			}
			return
		}
		flat = append(flat, int64(v.(float64)))
	}
	walk(v, 0)
	return tensor.FromInt64(flat, shape...)
}

func floats(v any) []float64 {
	if l, ok := v.([]any); ok {
		var out []float64
		for _, x := range l {
			out = append(out, floats(x)...)
		}
		return out
	}
	return []float64{v.(float64)}
}

type headModel interface {
	Params() *nn.Params
	Forward(Batch) (Output, error)
}

func TestParityHeads(t *testing.T) {
	base, err := checkpoint.Load(filepath.Join("testdata", "seqcls"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		build func(Config) (headModel, error)
	}{
		{"tokcls", func(c Config) (headModel, error) { return NewForTokenClassification(c, 1) }},
		{"qa", func(c Config) (headModel, error) { return NewForQuestionAnswering(c, 1) }},
		{"mc", func(c Config) (headModel, error) { return NewForMultipleChoice(c, 1) }},
		{"mlm", func(c Config) (headModel, error) { return NewForMaskedLM(c, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var e headCase
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatal(err)
			}
			c, err := ReadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := tc.build(c)
			if err != nil {
				t.Fatal(err)
			}
			sd, err := checkpoint.LoadFile(filepath.Join(dir, "head.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range base {
				if strings.HasPrefix(k, "bert.") && m.Params().Get(k) != nil {
					sd[k] = v
				}
			}
			rep, err := LoadState(m.Params(), sd)
			if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
				t.Fatalf("load: %v %v", err, rep)
			}
			in := Batch{InputIDs: ints(t, e.InputIDs), TokenTypeIDs: ints(t, e.TokenTypeIDs), AttentionMask: ints(t, e.AttentionMask)}
			if e.Labels != nil {
				in.Labels = ints(t, e.Labels)
			}
			if e.Start != nil {
				in.StartPositions = tensor.FromInt64(e.Start, len(e.Start))
				in.EndPositions = tensor.FromInt64(e.End, len(e.End))
			}
			out, err := m.Forward(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []float32
			if out.StartLogits != nil { // the reference stacks [B, 2, T]
				B, T := out.StartLogits.Dim(0), out.StartLogits.Dim(1)
				got = tensor.Concat(1, tensor.Reshape(out.StartLogits, B, 1, T), tensor.Reshape(out.EndLogits, B, 1, T)).Float32s()
			} else {
				got = out.Logits.Float32s()
			}
			want := floats(e.Logits)
			if len(got) != len(want) {
				t.Fatalf("%d logits, want %d", len(got), len(want))
			}
			worst := 0.0
			for i := range want {
				worst = math.Max(worst, relErr(float64(got[i]), want[i], 1e-2))
			}
			if worst > 1e-4 {
				t.Errorf("logits: worst relative error %.2e > 1e-4", worst)
			}
			if r := relErr(out.Loss.Item(), e.Loss, 1e-6); r > 1e-4 {
				t.Errorf("loss %.7f, want %.7f", out.Loss.Item(), e.Loss)
			}
			out.Loss.Backward()
			// A softmax is shift-invariant, so a bias that adds the same value to
			// every competing score (qa_outputs.bias, the multiple-choice
			// classifier.bias) has an exactly zero gradient: the reference holds
			// float noise (~1e-8) there. Norms are therefore compared relative to
			// max(|want|, 1e-3 × the largest reference norm); attention.self.key.bias is another such zero.
			floor := 1e-6
			for _, v := range e.GradNorms {
				floor = math.Max(floor, 1e-3*v)
			}
			worstG, worstName := 0.0, ""
			for name, want := range e.GradNorms {
				p := m.Params().Get(name)
				if p == nil {
					t.Fatalf("no parameter %s", name)
				}
				got := 0.0
				if g := p.Grad(); g != nil {
					for _, v := range g.Float32s() {
						got += float64(v) * float64(v)
					}
				}
				if r := relErr(math.Sqrt(got), want, floor); r > worstG {
					worstG, worstName = r, name
				}
			}
			if worstG > 1e-3 {
				t.Errorf("gradient norms: worst relative error %.2e (%s) > 1e-3", worstG, worstName)
			}
			t.Logf("logits rel %.1e, loss %.7f vs %.7f, grad-norm rel %.1e (%s)", worst, out.Loss.Item(), e.Loss, worstG, worstName)
		})
	}
}

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
