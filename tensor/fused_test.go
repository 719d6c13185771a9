package tensor

import (
	"math/rand/v2"
	"testing"
)

func init() {
	refOps["linear"] = func(in []*Tensor, a attrs) *Tensor {
		if a.bool("bias") {
			return Linear(in[0], in[1], in[2])
		}
		return Linear(in[0], in[1], nil)
	}
	refOps["bias_gelu"] = func(in []*Tensor, a attrs) *Tensor { return BiasGELU(in[0], in[1], a.bool("tanh")) }
	lin := func(xs []int, out int, bias bool) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			in := []*Tensor{randT64(r, xs...), randT64(r, out, xs[len(xs)-1]), randT64(r, out)}
			return gradCase{inputs: in, fn: func(in []*Tensor) *Tensor {
				if bias {
					return Linear(in[0], in[1], in[2])
				}
				return Linear(in[0], in[1], nil)
			}, noGrad: map[int]bool{2: !bias}}
		}
	}
	gradChecks["linear"] = []func(r *rand.Rand) gradCase{lin([]int{3, 4}, 5, true), lin([]int{2, 3, 4}, 2, true), lin([]int{4, 3}, 3, false)}
	bg := func(tanh bool) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			return gradCase{inputs: []*Tensor{randT64(r, 2, 3, 4), randT64(r, 4)},
				fn: func(in []*Tensor) *Tensor { return BiasGELU(in[0], in[1], tanh) }}
		}
	}
	gradChecks["bias_gelu"] = []func(r *rand.Rand) gradCase{bg(false), bg(true)}
}

func BenchmarkLinear(b *testing.B) {
	// A BERT-base feed-forward input projection: 2048 tokens, 768 -> 3072.
	x := RandN(NewRNG(1), Float32, 1, 2048, 768).SetRequiresGrad(true)
	w := RandN(NewRNG(2), Float32, 0.02, 3072, 768).SetRequiresGrad(true)
	bias := Zeros(Float32, 3072).SetRequiresGrad(true)
	flops := 2.0 * 2048 * 768 * 3072
	b.ResetTimer()
	b.Run("forward", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			a := BeginArena()
			NoGrad(func() { Linear(x, w, bias) })
			a.Release()
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("forward+backward", func(b *testing.B) {
		b.ReportAllocs()
		g := Ones(Float32, 2048, 3072)
		for i := 0; i < b.N; i++ {
			a := BeginArena()
			Linear(x, w, bias).BackwardWith(g)
			a.Release()
		}
		b.ReportMetric(3*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

func BenchmarkBiasGELU(b *testing.B) {
	x := RandN(NewRNG(1), Float32, 1, 2048, 3072).SetRequiresGrad(true)
	bias := Zeros(Float32, 3072).SetRequiresGrad(true)
	g := Ones(Float32, 2048, 3072)
	b.SetBytes(int64(x.NumElems() * 4 * 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := BeginArena()
		BiasGELU(x, bias, false).BackwardWith(g)
		a.Release()
	}
}
