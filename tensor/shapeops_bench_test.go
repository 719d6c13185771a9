package tensor

import (
	"fmt"
	"testing"
)

// Benchmarks at BERT-base / GPT-2 sizes (batch 16, sequence 128). Each runs
// inside an arena, as a training step does; SetBytes counts the tensor bytes
// read and written by the kernels.

func BenchmarkLayerNorm(b *testing.B) {
	for _, d := range []int{768, 256} {
		const rows = 2048
		rng := NewRNG(1)
		x := RandN(rng, Float32, 1, rows, d)
		w := AddScalar(RandN(rng, Float32, 0.1, d), 1)
		bias := RandN(rng, Float32, 0.1, d)
		n := int64(rows * d * 4)
		b.Run(fmt.Sprintf("forward/%dx%d", rows, d), func(b *testing.B) {
			b.SetBytes(2 * n) // read x, write out
			b.ReportAllocs()
			for b.Loop() {
				a := BeginArena()
				LayerNorm(x, w, bias, 1e-12)
				a.Release()
			}
		})
		b.Run(fmt.Sprintf("forward_backward/%dx%d", rows, d), func(b *testing.B) {
			xg := Detach(x).SetRequiresGrad(true)
			wg, bg := Detach(w).SetRequiresGrad(true), Detach(bias).SetRequiresGrad(true)
			g := RandN(rng, Float32, 1, rows, d)
			b.SetBytes(5 * n) // forward: x, out; backward: x, g, dx
			b.ReportAllocs()
			for b.Loop() {
				a := BeginArena()
				LayerNorm(xg, wg, bg, 1e-12).BackwardWith(g)
				a.Release()
			}
		})
	}
}

func BenchmarkPermute(b *testing.B) {
	rng := NewRNG(2)
	btHD := RandN(rng, Float32, 1, 16, 128, 12, 64)
	bhTD := RandN(rng, Float32, 1, 16, 12, 128, 64)
	n := int64(btHD.NumElems() * 4)
	for _, c := range []struct {
		name string
		x    *Tensor
		fn   func(x *Tensor) *Tensor
	}{
		{"BTHD_to_BHTD", btHD, func(x *Tensor) *Tensor { return Permute(x, 0, 2, 1, 3) }},
		{"BHTD_to_BTHD", bhTD, func(x *Tensor) *Tensor { return Transpose(x, 1, 2) }},
		{"transpose_last2", bhTD, func(x *Tensor) *Tensor { return Transpose(x, -1, -2) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(2 * n)
			b.ReportAllocs()
			for b.Loop() {
				a := BeginArena()
				c.fn(c.x)
				a.Release()
			}
		})
	}
}

func BenchmarkEmbedding(b *testing.B) {
	const v, d = 30522, 256
	rng := NewRNG(3)
	w := RandN(rng, Float32, 0.02, v, d).SetRequiresGrad(true)
	ids := make([]int64, 16*128)
	for i := range ids {
		ids[i] = int64(rng.Uint64() % v)
	}
	idt := FromInt64(ids, 16, 128)
	g := RandN(rng, Float32, 1, 16, 128, d)
	rowBytes := int64(len(ids) * d * 4)
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(2 * rowBytes)
		b.ReportAllocs()
		for b.Loop() {
			a := BeginArena()
			NoGrad(func() { Embedding(w, idt) })
			a.Release()
		}
	})
	b.Run("forward_backward", func(b *testing.B) {
		// The rows touched; zeroing the dense [V, D] gradient and adding it
		// to w.Grad are extra (dense) passes, see Embedding.
		b.SetBytes(5 * rowBytes)
		b.ReportAllocs()
		for b.Loop() {
			a := BeginArena()
			Embedding(w, idt).BackwardWith(g)
			a.Release()
		}
	})
}
