package tensor_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/internal/kernels"
	"github.com/kiln-ml/kiln/tensor"
)

// An engine-level benchmark: the BERT-style sequence classifier of
// ../shared/bench/torch_bert.py (post-LN encoder, GELU(erf), dropout 0.1,
// tanh pooler, 2 labels, vocabulary 30522, sequence 128, cross-entropy,
// AdamW) built from tensor ops alone, so that a training step and an
// inference step can be compared with PyTorch's on the same machine. It is a
// fixture for measuring the engine, not kiln's BERT (models/bert).

type benchLayer struct {
	qw, qb, kw, kb, vw, vb, ow, ob *tensor.Tensor
	ln1w, ln1b, ln2w, ln2b         *tensor.Tensor
	f1w, f1b, f2w, f2b             *tensor.Tensor
}

type benchBert struct {
	heads        int
	we, pe, te   *tensor.Tensor
	lnw, lnb     *tensor.Tensor
	layers       []benchLayer
	poolW, poolB *tensor.Tensor
	clsW, clsB   *tensor.Tensor
	params       []*tensor.Tensor
	m, v         [][]float32 // AdamW moments
	step         int
	rng          *tensor.RNG
}

func newBenchBert(L, H, heads, FF int) *benchBert {
	r := tensor.NewRNG(0)
	m := &benchBert{heads: heads, rng: tensor.NewRNG(1)}
	p := func(std float64, shape ...int) *tensor.Tensor {
		t := tensor.RandN(r, tensor.Float32, std, shape...).SetRequiresGrad(true)
		m.params = append(m.params, t)
		return t
	}
	z := func(shape ...int) *tensor.Tensor {
		t := tensor.Zeros(tensor.Float32, shape...).SetRequiresGrad(true)
		m.params = append(m.params, t)
		return t
	}
	o := func(shape ...int) *tensor.Tensor {
		t := tensor.Ones(tensor.Float32, shape...).SetRequiresGrad(true)
		m.params = append(m.params, t)
		return t
	}
	const std = 0.02
	m.we, m.pe, m.te = p(std, 30522, H), p(std, 512, H), p(std, 2, H)
	m.lnw, m.lnb = o(H), z(H)
	for i := 0; i < L; i++ {
		m.layers = append(m.layers, benchLayer{
			qw: p(std, H, H), qb: z(H), kw: p(std, H, H), kb: z(H), vw: p(std, H, H), vb: z(H),
			ow: p(std, H, H), ob: z(H), ln1w: o(H), ln1b: z(H),
			f1w: p(std, FF, H), f1b: z(FF), f2w: p(std, H, FF), f2b: z(H), ln2w: o(H), ln2b: z(H),
		})
	}
	m.poolW, m.poolB, m.clsW, m.clsB = p(std, H, H), z(H), p(std, 2, H), z(2)
	for _, t := range m.params {
		m.m = append(m.m, make([]float32, t.NumElems()))
		m.v = append(m.v, make([]float32, t.NumElems()))
	}
	return m
}

// forward returns the logits [B, 2] for ids, token types and mask [B, S].
func (m *benchBert) forward(ids, tt, pos, mask *tensor.Tensor, train bool) *tensor.Tensor {
	const p = 0.1
	x := tensor.Add(tensor.Add(tensor.Embedding(m.we, ids), tensor.Embedding(m.pe, pos)), tensor.Embedding(m.te, tt))
	x = tensor.Dropout(tensor.LayerNorm(x, m.lnw, m.lnb, 1e-12), p, m.rng, train)
	for _, l := range m.layers {
		q, k, v := tensor.Linear(x, l.qw, l.qb), tensor.Linear(x, l.kw, l.kb), tensor.Linear(x, l.vw, l.vb)
		dp := 0.0
		if train {
			dp = p
		}
		ctx := tensor.Attention(q, k, v, m.heads, tensor.AttentionOpts{KeyMask: mask, DropoutP: dp, RNG: m.rng})
		x = tensor.LayerNorm(tensor.Add(x, tensor.Dropout(tensor.Linear(ctx, l.ow, l.ob), p, m.rng, train)), l.ln1w, l.ln1b, 1e-12)
		h := tensor.Linear(tensor.BiasGELU(tensor.Linear(x, l.f1w, nil), l.f1b, false), l.f2w, l.f2b)
		x = tensor.LayerNorm(tensor.Add(x, tensor.Dropout(h, p, m.rng, train)), l.ln2w, l.ln2b, 1e-12)
	}
	cls := tensor.Reshape(tensor.Slice(x, 1, 0, 1), x.Dim(0), x.Dim(2)) // [B, H]: the [CLS] position
	pooled := tensor.Tanh(tensor.Linear(cls, m.poolW, m.poolB))
	return tensor.Linear(tensor.Dropout(pooled, p, m.rng, train), m.clsW, m.clsB)
}

// crossEntropy is mean_i -log softmax(logits_i)[y_i].
func crossEntropy(logits, y *tensor.Tensor) *tensor.Tensor {
	lp := tensor.LogSoftmax(logits, -1)
	picked := tensor.Gather(lp, 1, tensor.Reshape(y, y.Dim(0), 1))
	return tensor.Neg(tensor.Mean(picked))
}

// adamW applies one AdamW step (lr 2e-5, weight decay 0.01 on every
// parameter, as torch_bert.py does) with the fused kernel.
func (m *benchBert) adamW() {
	m.step++
	const lr, b1, b2, eps, wd = 2e-5, 0.9, 0.999, 1e-8, 0.01
	bc1 := 1 - math.Pow(b1, float64(m.step))
	bc2 := 1 - math.Pow(b2, float64(m.step))
	for i, t := range m.params {
		g := t.Grad()
		if g == nil {
			continue
		}
		kernels.AdamWF32(t.F32(), g.F32(), m.m[i], m.v[i], lr, b1, b2, eps, wd, bc1, bc2)
		t.ZeroGrad()
	}
}

func BenchmarkBertStep(b *testing.B) {
	configs := []struct {
		name               string
		L, H, heads, FF, B int
	}{
		{"tiny", 2, 128, 2, 512, 16},
		{"mini", 4, 256, 4, 1024, 16},
	}
	const S = 128
	for _, c := range configs {
		m := newBenchBert(c.L, c.H, c.heads, c.FF)
		r := tensor.NewRNG(7)
		idsF := tensor.Uniform(r, tensor.Float64, 0, 30522, c.B, S).Int64s()
		ids := tensor.FromInt64(idsF, c.B, S)
		tt := tensor.Zeros(tensor.Int64, c.B, S)
		posData := make([]int64, c.B*S)
		for i := range posData {
			posData[i] = int64(i % S)
		}
		pos := tensor.FromInt64(posData, c.B, S)
		mask := tensor.Ones(tensor.Int64, c.B, S)
		y := tensor.FromInt64(make([]int64, c.B), c.B)
		tokens := float64(c.B * S)
		b.Run(fmt.Sprintf("%s/train", c.name), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				a := tensor.BeginArena()
				loss := crossEntropy(m.forward(ids, tt, pos, mask, true), y)
				loss.Backward()
				a.Release()
				m.adamW()
			}
			b.ReportMetric(tokens*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
		b.Run(fmt.Sprintf("%s/infer", c.name), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				a := tensor.BeginArena()
				tensor.NoGrad(func() { m.forward(ids, tt, pos, mask, false) })
				a.Release()
			}
			b.ReportMetric(tokens*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
