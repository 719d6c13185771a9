package tensor

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// This file replays the PyTorch reference cases in testdata/ref_*.json (made
// by tools/torchref/ops_*.py): for each case it rebuilds the inputs, runs the
// Go op registered under the case's op name, backpropagates the stored
// upstream gradient and compares output and input gradients with PyTorch.

// refOp runs one op on the case's inputs with the case's attributes.
type refOp func(in []*Tensor, at attrs) *Tensor

// refOps maps a case's op name to the Go op. Test files of each op family
// register theirs in init functions.
var refOps = map[string]refOp{}

// attrs are a case's keyword arguments, as decoded from JSON.
type attrs map[string]any

func (a attrs) float(k string) float64 {
	v, ok := a[k].(float64)
	if !ok {
		panic(fmt.Sprintf("attr %q missing or not a number: %v", k, a[k]))
	}
	return v
}

func (a attrs) int(k string) int { return int(a.float(k)) }

func (a attrs) bool(k string) bool {
	v, ok := a[k].(bool)
	if !ok {
		panic(fmt.Sprintf("attr %q missing or not a bool: %v", k, a[k]))
	}
	return v
}

func (a attrs) ints(k string) []int {
	raw, ok := a[k].([]any)
	if !ok {
		panic(fmt.Sprintf("attr %q missing or not a list: %v", k, a[k]))
	}
	out := make([]int, len(raw))
	for i, v := range raw {
		out[i] = int(v.(float64))
	}
	return out
}

func (a attrs) has(k string) bool { _, ok := a[k]; return ok }

func init() {
	refOps["add"] = func(in []*Tensor, _ attrs) *Tensor { return Add(in[0], in[1]) }
	refOps["sub"] = func(in []*Tensor, _ attrs) *Tensor { return Sub(in[0], in[1]) }
	refOps["mul"] = func(in []*Tensor, _ attrs) *Tensor { return Mul(in[0], in[1]) }
	refOps["div"] = func(in []*Tensor, _ attrs) *Tensor { return Div(in[0], in[1]) }
	refOps["add_scalar"] = func(in []*Tensor, a attrs) *Tensor { return AddScalar(in[0], a.float("s")) }
	refOps["mul_scalar"] = func(in []*Tensor, a attrs) *Tensor { return MulScalar(in[0], a.float("s")) }
	refOps["sum"] = func(in []*Tensor, _ attrs) *Tensor { return Sum(in[0]) }
	refOps["mean"] = func(in []*Tensor, _ attrs) *Tensor { return Mean(in[0]) }
	refOps["matmul"] = func(in []*Tensor, a attrs) *Tensor {
		return MatMulT(in[0], in[1], a.bool("transA"), a.bool("transB"))
	}
}

// jsonTensor is the reference encoding of a tensor.
type jsonTensor struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	Data  []any  `json:"data"`
}

func (j jsonTensor) floats() []float64 {
	out := make([]float64, len(j.Data))
	for i, v := range j.Data {
		switch x := v.(type) {
		case float64:
			out[i] = x
		case bool:
			if x {
				out[i] = 1
			}
		case string:
			switch x {
			case "nan":
				out[i] = math.NaN()
			case "inf":
				out[i] = math.Inf(1)
			case "-inf":
				out[i] = math.Inf(-1)
			}
		}
	}
	return out
}

// tensor decodes j into a Tensor of its dtype.
func (j jsonTensor) tensor() *Tensor {
	f := j.floats()
	shape := j.Shape
	if shape == nil {
		shape = []int{}
	}
	switch j.DType {
	case "float32":
		v := make([]float32, len(f))
		for i, x := range f {
			v[i] = float32(x)
		}
		return FromFloat32(v, shape...)
	case "float64":
		return FromFloat64(f, shape...)
	case "int64":
		v := make([]int64, len(f))
		for i, x := range f {
			v[i] = int64(x)
		}
		return FromInt64(v, shape...)
	case "bool":
		v := make([]bool, len(f))
		for i, x := range f {
			v[i] = x != 0
		}
		return FromBool(v, shape...)
	}
	panic("unknown dtype " + j.DType)
}

type refCase struct {
	Name     string                `json:"name"`
	Op       string                `json:"op"`
	Attrs    attrs                 `json:"attrs"`
	Inputs   []jsonTensor          `json:"inputs"`
	Output   jsonTensor            `json:"output"`
	Upstream *jsonTensor           `json:"upstream"`
	Grads    map[string]jsonTensor `json:"grads"`
	RTol     float64               `json:"rtol"`
	ATol     float64               `json:"atol"`
}

func loadRefCases(t *testing.T) []refCase {
	t.Helper()
	files, err := filepath.Glob("testdata/ref_*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no reference files in testdata: %v", err)
	}
	var all []refCase
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Cases []refCase `json:"cases"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all = append(all, doc.Cases...)
	}
	return all
}

// TestTorchReference checks every op's output and input gradients against
// the PyTorch values.
func TestTorchReference(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range loadRefCases(t) {
		seen[c.Op] = true
		t.Run(c.Name, func(t *testing.T) {
			fn, ok := refOps[c.Op]
			if !ok {
				t.Fatalf("no Go op registered for %q", c.Op)
			}
			var ins []*Tensor
			for _, j := range c.Inputs {
				x := j.tensor()
				if _, wantGrad := c.Grads[j.Name]; wantGrad {
					x.SetRequiresGrad(true)
				}
				ins = append(ins, x)
			}
			out := fn(ins, c.Attrs)
			want := c.Output.tensor()
			if !sameShape(out.Shape(), want.Shape()) {
				t.Fatalf("output shape %v, want %v", out.Shape(), want.Shape())
			}
			if out.DType() != want.DType() {
				t.Fatalf("output dtype %v, want %v", out.DType(), want.DType())
			}
			assertClose(t, "output", out.Float64s(), want.Float64s(), c.RTol, c.ATol)
			if c.Upstream == nil || len(c.Grads) == 0 {
				return
			}
			out.BackwardWith(c.Upstream.tensor())
			for i, j := range c.Inputs {
				wg, ok := c.Grads[j.Name]
				if !ok {
					continue
				}
				g := ins[i].Grad()
				if g == nil {
					t.Fatalf("input %s got no gradient", j.Name)
				}
				assertClose(t, "grad "+j.Name, g.Float64s(), wg.floats(), c.RTol, c.ATol)
			}
		})
	}
	// Every registered op must have at least one reference case.
	var missing []string
	for op := range refOps {
		if !seen[op] {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("ops registered without a PyTorch reference case: %v", missing)
	}
}

// assertClose fails unless |got-want| <= atol + rtol*|want| element-wise
// (NaN matches NaN, infinities must match exactly).
func assertClose(t *testing.T, what string, got, want []float64, rtol, atol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		if math.IsNaN(g) || math.IsNaN(w) || math.IsInf(w, 0) || math.Abs(g-w) > atol+rtol*math.Abs(w) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.9g, want %.9g (diff %.3g)", what, i, g, w, g-w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements differ", what, bad, len(got))
	}
}
