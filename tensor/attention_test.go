package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func init() {
	refOps["attention"] = func(in []*Tensor, a attrs) *Tensor {
		o := AttentionOpts{Causal: a.bool("causal")}
		if a.has("masked") {
			o.KeyMask = in[3]
		}
		return Attention(in[0], in[1], in[2], a.int("heads"), o)
	}
	att := func(B, Tq, Tk, H, D int, mask []int64, causal bool, p float64) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			in := []*Tensor{randT64(r, B, Tq, H*D), randT64(r, B, Tk, H*D), randT64(r, B, Tk, H*D)}
			var km *Tensor
			if mask != nil {
				km = FromInt64(mask, B, Tk)
			}
			return gradCase{inputs: in, fn: func(in []*Tensor) *Tensor {
				// A fresh RNG per call: the dropout mask is the same in
				// every evaluation, so finite differences see one function.
				return Attention(in[0], in[1], in[2], H, AttentionOpts{KeyMask: km, Causal: causal, DropoutP: p, RNG: NewRNG(5)})
			}}
		}
	}
	gradChecks["attention"] = []func(r *rand.Rand) gradCase{
		att(2, 4, 4, 2, 3, nil, false, 0),
		att(2, 4, 4, 2, 2, []int64{1, 1, 0, 0, 1, 1, 1, 1}, false, 0),
		att(1, 5, 5, 2, 2, nil, true, 0),
		att(2, 3, 3, 1, 2, []int64{0, 1, 1, 1, 1, 1}, true, 0),
		att(1, 3, 5, 2, 2, []int64{1, 1, 1, 0, 1}, false, 0),
		att(2, 4, 4, 2, 3, []int64{1, 1, 1, 0, 1, 1, 1, 1}, false, 0.3),
	}
}

// TestAttentionDropout checks that dropout is reproducible from the seed,
// drops about p of the probabilities and keeps rows' expected value.
func TestAttentionDropout(t *testing.T) {
	q := RandN(NewRNG(1), Float32, 1, 2, 64, 32)
	k := RandN(NewRNG(2), Float32, 1, 2, 64, 32)
	ones := Ones(Float32, 2, 64, 32) // v = 1: each output = Σ kept probabilities
	run := func(seed uint64, p float64) []float32 {
		return Attention(q, k, ones, 4, AttentionOpts{DropoutP: p, RNG: NewRNG(seed)}).Float32s()
	}
	a, b := run(9, 0.25), run(9, 0.25)
	var mean float64
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different dropout")
		}
		mean += float64(a[i])
	}
	mean /= float64(len(a))
	if math.Abs(mean-1) > 0.05 {
		t.Fatalf("mean output %v, want ≈1 (inverted dropout keeps the expectation)", mean)
	}
	if c := run(10, 0.25); c[0] == a[0] && c[1] == a[1] && c[2] == a[2] {
		t.Fatal("different seeds gave the same dropout")
	}
}

func BenchmarkAttention(b *testing.B) {
	// BERT-base-like: batch 16, 12 heads of 64, sequence 128.
	B, T, H, D := 16, 128, 12, 64
	q := RandN(NewRNG(1), Float32, 1, B, T, H*D).SetRequiresGrad(true)
	k := RandN(NewRNG(2), Float32, 1, B, T, H*D).SetRequiresGrad(true)
	v := RandN(NewRNG(3), Float32, 1, B, T, H*D).SetRequiresGrad(true)
	mask := Ones(Int64, B, T)
	flops := float64(4 * B * H * T * T * D)
	b.Run("forward", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			a := BeginArena()
			NoGrad(func() { Attention(q, k, v, H, AttentionOpts{KeyMask: mask}) })
			a.Release()
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("forward+backward", func(b *testing.B) {
		b.ReportAllocs()
		g := Ones(Float32, B, T, H*D)
		for i := 0; i < b.N; i++ {
			a := BeginArena()
			out := Attention(q, k, v, H, AttentionOpts{KeyMask: mask, DropoutP: 0.1, RNG: NewRNG(uint64(i))})
			out.BackwardWith(g)
			a.Release()
		}
		b.ReportMetric(3*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
