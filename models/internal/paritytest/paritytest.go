// Package paritytest checks a kiln model against the fixtures a PyTorch
// reference in tools/modelref wrote (expected.json: the inputs, the logits,
// the loss and every parameter's gradient L2 norm, in eval mode), with the
// project's tolerances: logits and loss relative 1e-4, gradient norms
// relative 1e-3.
package paritytest

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

// Case is one expected.json. Integer inputs stay raw until Ints gives them
// their shape; absent ones are nil.
type Case struct {
	InputIDs      json.RawMessage    `json:"input_ids"`
	TokenTypeIDs  json.RawMessage    `json:"token_type_ids"`
	AttentionMask json.RawMessage    `json:"attention_mask"`
	Labels        json.RawMessage    `json:"labels"`
	Start         json.RawMessage    `json:"start_positions"`
	End           json.RawMessage    `json:"end_positions"`
	Logits        any                `json:"logits"` // nested lists; question answering stacks [B, 2, T]
	Loss          float64            `json:"loss"`
	GradNorms     map[string]float64 `json:"grad_norms"`
}

// Read reads dir/expected.json.
func Read(t testing.TB, dir string) Case {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c Case
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return c
}

// Ints decodes nested integer lists into an int64 tensor of their shape; nil
// when raw is absent.
func Ints(t testing.TB, raw json.RawMessage) *tensor.Tensor {
	t.Helper()
	if raw == nil {
		return nil
	}
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

// relErr is |got-want| / max(|want|, floor): relative, with a floor so that
// values near zero are compared absolutely.
func relErr(got, want, floor float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), floor)
}

// Weights is the state dict of the case in dir: its whole checkpoint, or,
// for a head case, its head.safetensors plus the tensors of base (the whole
// case's checkpoint) under prefix that p has: the shared encoder.
func Weights(t testing.TB, dir string, base checkpoint.StateDict, prefix string, p *nn.Params) checkpoint.StateDict {
	t.Helper()
	head := filepath.Join(dir, "head.safetensors")
	if _, err := os.Stat(head); err != nil {
		sd, err := checkpoint.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		return sd
	}
	sd, err := checkpoint.LoadFile(head)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range base {
		if strings.HasPrefix(k, prefix) && p.Get(k) != nil {
			sd[k] = v
		}
	}
	return sd
}

// Check compares the logits (question answering: start and end, which the
// reference stacks [B, 2, T]) and the loss with c, runs loss.Backward and
// compares every parameter's gradient norm. Every
// reference parameter must exist in params, and every parameter of params
// must be in the reference or share its tensor with one that is (a tied
// decoder).
//
// A softmax is shift-invariant, so a bias that adds the same value to every
// competing score (qa_outputs.bias, the multiple-choice classifier.bias) has
// an exactly zero gradient where the reference holds float noise (~1e-8):
// norms are compared relative to max(|want|, 1e-3 × the largest reference
// norm).
func Check(t *testing.T, logits, start, end, loss *tensor.Tensor, params *nn.Params, c Case) {
	t.Helper()
	var got []float32
	if start != nil {
		B, T := start.Dim(0), start.Dim(1)
		got = tensor.Concat(1, tensor.Reshape(start, B, 1, T), tensor.Reshape(end, B, 1, T)).Float32s()
	} else {
		got = logits.Float32s()
	}
	want := floats(c.Logits)
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
	if loss == nil {
		t.Fatal("no loss")
	}
	if r := relErr(loss.Item(), c.Loss, 1e-6); r > 1e-4 {
		t.Errorf("loss %.7f, want %.7f (rel %.2e)", loss.Item(), c.Loss, r)
	}
	loss.Backward()
	floor := 1e-6
	ref := map[*tensor.Tensor]bool{}
	for name, v := range c.GradNorms {
		floor = math.Max(floor, 1e-3*v)
		if p := params.Get(name); p != nil {
			ref[p] = true
		} else {
			t.Errorf("reference parameter %s is not in the model", name)
		}
	}
	for _, name := range params.Names() {
		if !ref[params.Get(name)] {
			t.Errorf("parameter %s has no reference gradient", name)
		}
	}
	worstG, worstName := 0.0, ""
	for name, want := range c.GradNorms {
		p := params.Get(name)
		if p == nil {
			continue
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
	t.Logf("logits rel %.1e, loss %.7f vs %.7f, grad-norm rel %.1e (%s)", worst, loss.Item(), c.Loss, worstG, worstName)
}
