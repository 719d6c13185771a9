package optim

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/internal/kernels"
	"github.com/kiln-ml/kiln/internal/parallel"
	"github.com/kiln-ml/kiln/tensor"
)

func TestNoDecay(t *testing.T) {
	for name, want := range map[string]bool{
		"bert.embeddings.word_embeddings.weight":              false,
		"bert.embeddings.LayerNorm.weight":                    true,
		"bert.embeddings.LayerNorm.bias":                      true,
		"bert.encoder.layer.3.attention.self.query.bias":      true,
		"bert.encoder.layer.3.attention.self.query.weight":    false,
		"transformer.h.0.ln_1.weight":                         true,
		"transformer.ln_f.weight":                             true,
		"transformer.h.0.mlp.c_fc.weight":                     false,
		"model.layers.0.input_layernorm.weight":               true,
		"model.norm.weight":                                   true,
		"encoder.layer_norm.weight":                           true,
		"model.layers.0.self_attn.q_proj.weight":              false,
		"distilbert.transformer.layer.0.sa_layer_norm.weight": true,
		"classifier.weight":                                   false,
		"cls.predictions.transform.dense.weight":              false,
		"lnx.weight":                                          false,
		"kiln.normalizer.weight":                              false,
	} {
		if got := NoDecay(name); got != want {
			t.Errorf("NoDecay(%q) = %v, want %v", name, got, want)
		}
	}
	ps := []Param{{"a.weight", nil}, {"a.bias", nil}, {"b.weight", nil}}
	g := ParamGroups(ps, 0.1, func(n string) bool { return n == "b.weight" })
	if len(g[0].Params) != 2 || len(g[1].Params) != 1 || g[0].WeightDecay != 0.1 || g[1].WeightDecay != 0 {
		t.Fatalf("custom predicate: %+v", g)
	}
}

func TestErrorsNameTheParameter(t *testing.T) {
	f64 := tensor.Zeros(tensor.Float64, 2)
	if _, err := NewAdamW([]Group{{Params: []Param{{"enc.w", f64}}}}, AdamWConfig{}); err == nil || !strings.Contains(err.Error(), `"enc.w"`) {
		t.Errorf("float64 param: %v", err)
	}
	w := tensor.Zeros(tensor.Float32, 2)
	if _, err := NewSGD([]Group{{Params: []Param{{"x", w}, {"x", w}}}}, SGDConfig{LR: 1}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewSGD(nil, SGDConfig{LR: 1, Nesterov: true}); err == nil {
		t.Error("nesterov without momentum accepted")
	}
	if _, err := GetSchedule("linear", ScheduleOptions{WarmupSteps: 2}); err == nil {
		t.Error("linear without total accepted")
	}
	if _, err := GetSchedule("cosine_annealing", ScheduleOptions{}); err == nil {
		t.Error("unknown schedule accepted")
	}
	if _, err := Polynomial(0, 10, 1e-7, 1e-7, 1); err == nil {
		t.Error("lr_end = lr_init accepted")
	}
}

// randParams builds params of the given sizes with seeded values.
func randParams(seed uint64, sizes ...int) []Param {
	r := rand.New(rand.NewPCG(seed, 1))
	var ps []Param
	for i, n := range sizes {
		d := make([]float32, n)
		for j := range d {
			d[j] = float32(r.NormFloat64())
		}
		name := "layer." + string(rune('a'+i)) + ".weight"
		if i%2 == 1 {
			name = "layer." + string(rune('a'+i)) + ".bias"
		}
		ps = append(ps, Param{name, tensor.FromFloat32(d).SetRequiresGrad(true)})
	}
	return ps
}

func randGrads(t *testing.T, r *rand.Rand, ps []Param) {
	t.Helper()
	for _, p := range ps {
		g := make([]float32, p.T.NumElems())
		for j := range g {
			g[j] = float32(r.NormFloat64() * 0.1)
		}
		setGrad(p.T, g)
	}
}

func snapshot(ps []Param) [][]float32 {
	var out [][]float32
	for _, p := range ps {
		out = append(out, append([]float32(nil), p.T.F32()...))
	}
	return out
}

// runAdamW takes steps AdamW steps with seeded grads and returns the params.
func runAdamW(t *testing.T, steps int) [][]float32 {
	ps := randParams(7, 1000, 37, 5003)
	opt, err := NewAdamW(ParamGroups(ps, 0.01, nil), AdamWConfig{LR: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range steps {
		randGrads(t, r, ps)
		opt.Step()
	}
	return snapshot(ps)
}

func TestAdamWChunkingIsBitExact(t *testing.T) {
	defer func(c int) { chunkElems = c }(chunkElems)
	chunkElems = 1 << 30
	one := runAdamW(t, 4)
	for _, c := range []int{7, 64, 1000} {
		chunkElems = c
		got := runAdamW(t, 4)
		for i := range one {
			for j := range one[i] {
				if got[i][j] != one[i][j] {
					t.Fatalf("chunk %d: param %d[%d] = %v, single chunk %v", c, i, j, got[i][j], one[i][j])
				}
			}
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	// Reference: 6 uninterrupted steps with a scheduler.
	run := func(resumeAt int) [][]float32 {
		ps := randParams(11, 300, 20)
		opt, _ := NewAdamW(ParamGroups(ps, 0.01, nil), AdamWConfig{LR: 1e-3})
		sched := NewScheduler(opt, Linear(2, 6))
		r := rand.New(rand.NewPCG(5, 6))
		for k := range 6 {
			if k == resumeAt {
				// Save, then continue in a fresh optimizer over copied params.
				st := opt.State()
				meta, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				var back State
				if err := json.Unmarshal(meta, &back); err != nil {
					t.Fatal(err)
				}
				for i := range back.Params { // buffers travel beside the JSON
					back.Params[i].ExpAvg, back.Params[i].ExpAvgSq = st.Params[i].ExpAvg, st.Params[i].ExpAvgSq
				}
				ss := sched.State()
				ps2 := randParams(99, 300, 20)
				for i := range ps {
					copy(ps2[i].T.F32(), ps[i].T.F32())
				}
				ps = ps2
				opt, _ = NewAdamW(ParamGroups(ps, 0.01, nil), AdamWConfig{LR: 1e-3})
				if err := opt.LoadState(&back); err != nil {
					t.Fatal(err)
				}
				sched = NewScheduler(opt, Linear(2, 6))
				if err := sched.LoadState(ss); err != nil {
					t.Fatal(err)
				}
			}
			randGrads(t, r, ps)
			opt.Step()
			sched.Step()
		}
		return snapshot(ps)
	}
	want, got := run(-1), run(3)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("resumed param %d[%d] = %v, uninterrupted %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestLoadStateChecksNamesAndShapes(t *testing.T) {
	ps := randParams(1, 4, 3)
	opt, _ := NewAdamW(ParamGroups(ps, 0.01, nil), AdamWConfig{})
	st := opt.State()
	st.Params[1].Shape = []int{5}
	if err := opt.LoadState(st); err == nil || !strings.Contains(err.Error(), ps[1].Name) {
		t.Errorf("shape mismatch: %v", err)
	}
	st = opt.State()
	st.Params[0].Name = "other.weight"
	if err := opt.LoadState(st); err == nil || !strings.Contains(err.Error(), ps[0].Name) {
		t.Errorf("name mismatch: %v", err)
	}
	st = opt.State()
	st.Params[0].Step = 2
	if err := opt.LoadState(st); err == nil || !strings.Contains(err.Error(), ps[0].Name) {
		t.Errorf("missing buffers: %v", err)
	}
	sgd, _ := NewSGD(ParamGroups(ps, 0, nil), SGDConfig{LR: 0.1, Momentum: 0.9})
	if err := sgd.LoadState(opt.State()); err == nil {
		t.Error("AdamW state loaded into SGD")
	}
}

func TestClipNonFinite(t *testing.T) {
	p := tensor.Zeros(tensor.Float32, 3).SetRequiresGrad(true)
	setGrad(p, []float32{1, float32(math.NaN()), 2})
	norm, ok := ClipGradNorm([]Param{{"p", p}}, 1)
	if ok || norm == norm {
		t.Fatalf("norm %v finite %v", norm, ok)
	}
	if g := p.Grad().F32(); g[0] != 1 || g[2] != 2 {
		t.Fatalf("grads changed: %v", g)
	}
}

// miniBERT returns params the size of the mini BERT (11M float32, one big
// embedding and many 256x256 matrices) with seeded gradients.
func miniBERT() []Param {
	sizes := []int{30522 * 256}
	for len(sizes) < 100 {
		sizes = append(sizes, 256*256, 256)
	}
	ps := randParams(1, sizes...)
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range ps {
		g := make([]float32, p.T.NumElems())
		for j := range g {
			g[j] = float32(r.NormFloat64())
		}
		setGrad(p.T, g)
	}
	return ps
}

func reportGBs(b *testing.B, ps []Param) {
	n := 0
	for _, p := range ps {
		n += p.T.NumElems()
	}
	// p, m, v read and written, g read: 7 float32 transfers per element.
	b.ReportMetric(float64(7*4*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	b.ReportMetric(float64(n)/1e6, "Mparams")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// BenchmarkAdamW11M is one AdamW.Step over the mini BERT's parameters.
func BenchmarkAdamW11M(b *testing.B) {
	ps := miniBERT()
	opt, _ := NewAdamW(ParamGroups(ps, 0.01, nil), AdamWConfig{LR: 1e-3})
	opt.Step()
	b.ResetTimer()
	for b.Loop() {
		opt.Step()
	}
	reportGBs(b, ps)
}

// BenchmarkAdamWKernel11M runs kernels.AdamWF32 (AVX2) over the same
// parameters and chunks, for comparison with the Go loop AdamW falls back to
// (see AdamW.update).
func BenchmarkAdamWKernel11M(b *testing.B) {
	ps := miniBERT()
	var ws []work
	var m, v [][]float32
	for i, p := range ps {
		ws = appendChunks(ws, i, p.T.NumElems())
		m = append(m, make([]float32, p.T.NumElems()))
		v = append(v, make([]float32, p.T.NumElems()))
	}
	b.ResetTimer()
	for b.Loop() {
		parallel.For(len(ws), 1, func(lo, hi int) {
			for _, w := range ws[lo:hi] {
				kernels.AdamWF32(ps[w.i].T.F32()[w.lo:w.hi], ps[w.i].T.Grad().F32()[w.lo:w.hi], m[w.i][w.lo:w.hi], v[w.i][w.lo:w.hi],
					1e-3, 0.9, 0.999, 1e-8, 0.01, 0.5, 0.5)
			}
		})
	}
	reportGBs(b, ps)
}
