package parity

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/tensor"
)

// Tolerance is an element-wise bound: |got - want| <= Abs + Rel·|want|.
type Tolerance struct{ Rel, Abs float64 }

// The tolerances: float32 cases at float32 precision (rel 1e-5, abs 1e-6
// near zero); float64 cases much tighter.
var (
	Float32Tol = Tolerance{Rel: 1e-5, Abs: 1e-6}
	Float64Tol = Tolerance{Rel: 1e-9, Abs: 1e-12}
)

// Result is the outcome of one case or error record.
type Result struct {
	Name, Group, Op string
	// MaxAbs and MaxRel are the largest absolute and relative differences
	// over the loss and all gradients (relative where |want| > Abs).
	MaxAbs, MaxRel float64
	Pass           bool
	// Note says why a case failed, or which documented kiln behaviour it
	// relied on, or the kiln error an error record produced.
	Note string
}

// Report holds the results of a run, cases first, then error records.
type Report struct{ Results []Result }

// Failed returns the number of failing results.
func (r *Report) Failed() int {
	n := 0
	for _, x := range r.Results {
		if !x.Pass {
			n++
		}
	}
	return n
}

// GroupCount is the pass count of one group.
type GroupCount struct {
	Group         string
	Passed, Total int
}

// Groups returns pass counts per group, in first-seen order.
func (r *Report) Groups() []GroupCount {
	var out []GroupCount
	at := map[string]int{}
	for _, x := range r.Results {
		i, ok := at[x.Group]
		if !ok {
			i = len(out)
			at[x.Group] = i
			out = append(out, GroupCount{Group: x.Group})
		}
		out[i].Total++
		if x.Pass {
			out[i].Passed++
		}
	}
	return out
}

// WriteTable prints one line per result (case, max abs error, max rel
// error, pass or FAIL, note), then the per-group counts and the total.
func (r *Report) WriteTable(w io.Writer) {
	width := 4
	for _, x := range r.Results {
		width = max(width, len(x.Name))
	}
	fmt.Fprintf(w, "%-*s  %10s  %10s  %-4s  %s\n", width, "case", "max abs", "max rel", "", "note")
	for _, x := range r.Results {
		status := "pass"
		if !x.Pass {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%-*s  %10.3g  %10.3g  %-4s  %s\n", width, x.Name, x.MaxAbs, x.MaxRel, status, x.Note)
	}
	fmt.Fprintln(w)
	passed := 0
	for _, g := range r.Groups() {
		fmt.Fprintf(w, "%-20s %d/%d\n", g.Group, g.Passed, g.Total)
		passed += g.Passed
	}
	fmt.Fprintf(w, "%-20s %d/%d passed\n", "total", passed, len(r.Results))
}

// Run evaluates every case and error record of f.
func Run(f *File) *Report {
	r := &Report{}
	for _, c := range f.Cases {
		r.Results = append(r.Results, RunCase(c))
	}
	for _, e := range f.Errors {
		r.Results = append(r.Results, RunError(e))
	}
	return r
}

// lossOps evaluate one loss from the case's inputs; the runner backprops
// and compares outputs.loss and outputs.grad.
var lossOps = map[string]func(c *ctx) (*tensor.Tensor, error){}

// multiOps compute named outputs for the trainer bookkeeping cases.
var multiOps = map[string]func(c *ctx) (map[string]any, error){}

// RunCase evaluates one case. A panic becomes a failure naming it.
func RunCase(cs Case) (res Result) {
	res = Result{Name: cs.Name, Group: cs.Group, Op: cs.Op}
	defer func() {
		if p := recover(); p != nil {
			res.Pass, res.Note = false, fmt.Sprintf("panic: %v", p)
		}
	}()
	var grads map[string]json.RawMessage
	if g, ok := cs.Outputs["grad"]; ok {
		if err := json.Unmarshal(g, &grads); err != nil {
			res.Note = "outputs.grad: " + err.Error()
			return res
		}
	}
	c := newCtx(cs.Params, cs.Inputs, grads)
	m := &comparer{tol: tolFor(cs)}
	before := loss.AllIgnoredBatches()
	if f, ok := lossOps[cs.Op]; ok {
		l, err := f(c)
		if err == nil {
			err = c.finish()
		}
		if err != nil {
			res.Note = "kiln error: " + err.Error()
			return res
		}
		m.nanAsZero = loss.AllIgnoredBatches() > before
		compareLoss(m, c, l, cs.Outputs, grads)
		if cs.Op == "LabelSmoother" {
			if raw, ok := cs.Extra["torch_ce_label_smoothing_equivalent"]; ok {
				compareCEEquivalent(m, c, raw)
			}
		}
	} else if f, ok := multiOps[cs.Op]; ok {
		got, err := f(c)
		if err == nil {
			err = c.finish()
		}
		if err != nil {
			res.Note = "kiln error: " + err.Error()
			return res
		}
		for _, k := range sortedKeys(cs.Outputs) {
			v, ok := got[k]
			if !ok {
				m.fail("output %s is not computed by kiln", k)
				continue
			}
			m.any(k, v, cs.Outputs[k])
		}
	} else {
		res.Note = fmt.Sprintf("op %q unknown to kiln", cs.Op)
		return res
	}
	res.MaxAbs, res.MaxRel = m.maxAbs, m.maxRel
	res.Pass = len(m.fails) == 0
	res.Note = strings.Join(append(m.fails, m.notes...), "; ")
	return res
}

// compareLoss backprops l and compares the loss and the gradients.
func compareLoss(m *comparer, c *ctx, l *tensor.Tensor, outs map[string]json.RawMessage, grads map[string]json.RawMessage) {
	for k := range outs {
		if k != "loss" && k != "grad" {
			m.fail("output %s unknown for a loss op", k)
		}
	}
	var want Tensor
	if err := json.Unmarshal(outs["loss"], &want); err != nil {
		m.fail("outputs.loss: %v", err)
		return
	}
	m.tensor("loss", l, want, true)
	if len(grads) == 0 {
		return
	}
	if !l.RequiresGrad() {
		m.fail("kiln's loss has no gradient")
		return
	}
	if l.NumElems() == 1 {
		tensor.Sum(l).Backward()
	} else {
		l.BackwardWith(tensor.Ones(l.DType(), l.Shape()...))
	}
	for _, k := range sortedKeys(grads) {
		var wg Tensor
		if err := json.Unmarshal(grads[k], &wg); err != nil {
			m.fail("outputs.grad.%s: %v", k, err)
			continue
		}
		leaf := c.leaves[k]
		if leaf == nil {
			m.fail("gradient for input %s: no such float input", k)
			continue
		}
		g := leaf.Grad()
		if g == nil {
			g = tensor.Zeros(leaf.DType(), leaf.Shape()...)
		}
		m.tensor("grad."+k, g, wg, false)
	}
}

// RunError evaluates one error record. When PyTorch raised, kiln must
// return an error; when it did not, kiln must match the forward value,
// except where kiln deliberately rejects a silent broadcast.
func RunError(e ErrorCase) (res Result) {
	res = Result{Name: e.Name, Group: "errors", Op: e.Op}
	defer func() {
		if p := recover(); p != nil {
			res.Pass, res.Note = false, fmt.Sprintf("panic (must be a kiln error): %v", p)
		}
	}()
	f, ok := lossOps[e.Op]
	if !ok {
		res.Note = fmt.Sprintf("op %q unknown to kiln", e.Op)
		return res
	}
	c := newCtx(e.Params, e.Inputs, nil)
	c.describe("note")
	l, err := f(c)
	if err == nil {
		err = c.finish()
	}
	broadcastWarn := false
	for _, w := range e.Warnings {
		if strings.Contains(w, "broadcasting") {
			broadcastWarn = true
		}
	}
	switch {
	case e.ErrorType != nil && err != nil:
		res.Pass, res.Note = true, "kiln error: "+err.Error()
	case e.ErrorType != nil:
		res.Note = fmt.Sprintf("PyTorch raised %s (%s) but kiln returned a loss", *e.ErrorType, deref(e.ErrorMessage))
	case err != nil && broadcastWarn:
		res.Pass, res.Note = true, "kiln rejects what PyTorch silently broadcasts (documented): "+err.Error()
	case err != nil:
		res.Note = "kiln error where PyTorch succeeded: " + err.Error()
	case e.ForwardValue == nil:
		res.Note = "record has neither an error nor a forward value"
	default:
		m := &comparer{tol: Float32Tol}
		if e.ForwardValue.DType == "float64" {
			m.tol = Float64Tol
		}
		m.tensor("loss", l, *e.ForwardValue, true)
		res.MaxAbs, res.MaxRel = m.maxAbs, m.maxRel
		res.Pass = len(m.fails) == 0
		res.Note = strings.Join(m.fails, "; ")
		if res.Pass {
			res.Note = "no error in PyTorch either; forward value matches"
		}
	}
	return res
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// tolFor picks the tolerance from the dtype the reference computed in: the
// expected loss's dtype, or the _f32 / _f64 suffix of trainer cases.
func tolFor(cs Case) Tolerance {
	var want Tensor
	if raw, ok := cs.Outputs["loss"]; ok && json.Unmarshal(raw, &want) == nil {
		if want.DType == "float32" {
			return Float32Tol
		}
		return Float64Tol
	}
	if strings.HasSuffix(cs.Name, "_f64") {
		return Float64Tol
	}
	return Float32Tol
}

// comparer accumulates differences and failures.
type comparer struct {
	tol            Tolerance
	maxAbs, maxRel float64
	fails, notes   []string
	// nanAsZero accepts a loss of 0 where PyTorch has NaN: kiln's
	// documented all-ignored behaviour (set when the loss counted one).
	nanAsZero bool
}

func (m *comparer) fail(format string, args ...any) {
	m.fails = append(m.fails, fmt.Sprintf(format, args...))
}

// tensor compares got with want element-wise, shapes included.
func (m *comparer) tensor(what string, got *tensor.Tensor, want Tensor, isLoss bool) {
	if got == nil {
		m.fail("%s: kiln computed nothing", what)
		return
	}
	ws := want.Shape
	if ws == nil {
		ws = []int{}
	}
	if gs := got.Shape(); !equalInts(gs, ws) {
		m.fail("%s: shape %v, want %v", what, gs, ws)
		return
	}
	m.values(what, got.Float64s(), want.floats(), isLoss)
}

// values compares flat values.
func (m *comparer) values(what string, got, want []float64, isLoss bool) {
	if len(got) != len(want) {
		m.fail("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	bad := -1
	for i := range got {
		g, w := got[i], want[i]
		if math.IsNaN(w) || math.IsInf(w, 0) || math.IsNaN(g) || math.IsInf(g, 0) {
			switch {
			case math.IsNaN(w) && math.IsNaN(g), math.IsInf(w, 1) && math.IsInf(g, 1), math.IsInf(w, -1) && math.IsInf(g, -1):
			case math.IsNaN(w) && g == 0 && isLoss && m.nanAsZero:
				m.addNote("all labels ignored: kiln gives 0 with a zero gradient where PyTorch gives NaN (documented)")
			default:
				if bad < 0 {
					bad = i
				}
			}
			continue
		}
		d := math.Abs(g - w)
		m.maxAbs = max(m.maxAbs, d)
		if math.Abs(w) > m.tol.Abs {
			m.maxRel = max(m.maxRel, d/math.Abs(w))
		}
		if d > m.tol.Abs+m.tol.Rel*math.Abs(w) && bad < 0 {
			bad = i
		}
	}
	if bad >= 0 {
		m.fail("%s[%d] = %.9g, want %.9g", what, bad, got[bad], want[bad])
	}
}

func (m *comparer) addNote(s string) {
	for _, n := range m.notes {
		if n == s {
			return
		}
	}
	m.notes = append(m.notes, s)
}

// any compares a computed value (tensor, float64, or nested slices of
// them) with an expected JSON value of the same structure.
func (m *comparer) any(what string, got any, raw json.RawMessage) {
	switch g := got.(type) {
	case *tensor.Tensor:
		var want Tensor
		if err := json.Unmarshal(raw, &want); err != nil {
			m.fail("%s: expected value is not a tensor: %v", what, err)
			return
		}
		m.tensor(what, g, want, true)
	case float64:
		var w Num
		if err := json.Unmarshal(raw, &w); err != nil {
			var want Tensor
			if err2 := json.Unmarshal(raw, &want); err2 != nil || len(want.Data) != 1 {
				m.fail("%s: expected value is not a number: %v", what, err)
				return
			}
			w = want.Data[0]
		}
		m.values(what, []float64{g}, []float64{float64(w)}, true)
	case []float64:
		var w []Num
		if err := json.Unmarshal(raw, &w); err != nil {
			m.fail("%s: expected value is not a list of numbers: %v", what, err)
			return
		}
		wf := make([]float64, len(w))
		for i, v := range w {
			wf[i] = float64(v)
		}
		m.values(what, g, wf, true)
	case []any:
		var w []json.RawMessage
		if err := json.Unmarshal(raw, &w); err != nil || len(w) != len(g) {
			m.fail("%s: expected a list of %d values", what, len(g))
			return
		}
		for i := range g {
			m.any(fmt.Sprintf("%s[%d]", what, i), g[i], w[i])
		}
	default:
		m.fail("%s: kiln value of type %T cannot be compared", what, got)
	}
}

func equalInts(a, b []int) bool {
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

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
