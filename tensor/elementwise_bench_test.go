package tensor

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks of the element-wise group at BERT-base sizes (batch 16,
// sequence 128: 2048 tokens, hidden 768, FFN 3072, 12 heads). SetBytes counts
// the memory traffic of one call (float32 elements read plus written), so
// MB/s compares with the machine's memory bandwidth.

func benchF32(shape ...int) *Tensor {
	r := rand.New(rand.NewPCG(1, 1))
	d := make([]float32, shapeSize(shape))
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return FromFloat32(d, shape...)
}

func benchUnary(b *testing.B, op unaryOp, shape ...int) {
	x := benchF32(shape...)
	n := x.NumElems()
	out := make([]float32, n)
	b.SetBytes(int64(8 * n))
	b.ReportAllocs()
	for b.Loop() {
		unaryFwd(op, out, x.F32(), 0, 0)
	}
}

func benchUnaryBwd(b *testing.B, op unaryOp, shape ...int) {
	x, g := benchF32(shape...), benchF32(shape...)
	n := x.NumElems()
	y, dx := make([]float32, n), make([]float32, n)
	unaryFwd(op, y, x.F32(), 0, 0)
	b.SetBytes(int64(12 * n))
	b.ReportAllocs()
	for b.Loop() {
		unaryBwd(op, dx, g.F32(), x.F32(), y, 0, 0)
	}
}

func BenchmarkGELU(b *testing.B)        { benchUnary(b, opGELU, 2048, 3072) }
func BenchmarkGELUBwd(b *testing.B)     { benchUnaryBwd(b, opGELU, 2048, 3072) }
func BenchmarkGELUTanh(b *testing.B)    { benchUnary(b, opGELUTanh, 2048, 3072) }
func BenchmarkGELUTanhBwd(b *testing.B) { benchUnaryBwd(b, opGELUTanh, 2048, 3072) }

// BenchmarkGELUOp includes the op's allocation and recording overhead.
func BenchmarkGELUOp(b *testing.B) {
	x := benchF32(2048, 3072)
	b.SetBytes(int64(8 * x.NumElems()))
	b.ReportAllocs()
	for b.Loop() {
		GELU(x)
	}
}

func benchSoftmax(b *testing.B, log, bwd bool, shape ...int) {
	x, g := benchF32(shape...), benchF32(shape...)
	n := shape[len(shape)-1]
	k0 := x.NumElems() / n
	y, dx := make([]float32, x.NumElems()), make([]float32, x.NumElems())
	softmaxFwd(y, x.F32(), k0, n, 1, log)
	b.ReportAllocs()
	if bwd {
		b.SetBytes(int64(12 * x.NumElems()))
		for b.Loop() {
			softmaxBwd(dx, g.F32(), y, k0, n, 1, log)
		}
		return
	}
	b.SetBytes(int64(8 * x.NumElems()))
	for b.Loop() {
		softmaxFwd(y, x.F32(), k0, n, 1, log)
	}
}

func BenchmarkSoftmaxAttention(b *testing.B)    { benchSoftmax(b, false, false, 16, 12, 128, 128) }
func BenchmarkSoftmaxAttentionBwd(b *testing.B) { benchSoftmax(b, false, true, 16, 12, 128, 128) }
func BenchmarkLogSoftmaxLogits(b *testing.B)    { benchSoftmax(b, true, false, 2048, 8192) }
func BenchmarkLogSoftmaxLogitsBwd(b *testing.B) { benchSoftmax(b, true, true, 2048, 8192) }

// BenchmarkSoftmaxAxis1 is the strided (non-last axis) path, for comparison.
func BenchmarkSoftmaxAxis1(b *testing.B) {
	x := benchF32(16, 128, 12*128)
	y := make([]float32, x.NumElems())
	b.SetBytes(int64(8 * x.NumElems()))
	b.ReportAllocs()
	for b.Loop() {
		softmaxFwd(y, x.F32(), 16, 128, 12*128, false)
	}
}

func BenchmarkSumAxesRows(b *testing.B) {
	x := benchF32(2048, 768)
	b.SetBytes(int64(4 * x.NumElems()))
	b.ReportAllocs()
	for b.Loop() {
		SumAxes(x, false, -1)
	}
}

// BenchmarkSumAxesCols is a bias gradient: [2048, 768] summed over tokens.
func BenchmarkSumAxesCols(b *testing.B) {
	x := benchF32(2048, 768)
	b.SetBytes(int64(4 * x.NumElems()))
	b.ReportAllocs()
	for b.Loop() {
		SumAxes(x, false, 0)
	}
}

func benchDropout(b *testing.B, shape ...int) {
	x := benchF32(shape...)
	n := x.NumElems()
	out := make([]float32, n)
	keep := make([]uint64, (n+63)/64)
	r := NewRNG(1)
	b.SetBytes(int64(8 * n))
	b.ReportAllocs()
	for b.Loop() {
		dropoutFwd(out, x.F32(), keep, r, r.take(n), 0.1, float32(1/0.9))
	}
}

func benchDropoutBwd(b *testing.B, shape ...int) {
	x := benchF32(shape...)
	n := x.NumElems()
	out, dx := make([]float32, n), make([]float32, n)
	keep := make([]uint64, (n+63)/64)
	r := NewRNG(1)
	dropoutFwd(out, x.F32(), keep, r, r.take(n), 0.1, float32(1/0.9))
	b.SetBytes(int64(8 * n))
	b.ReportAllocs()
	for b.Loop() {
		dropoutApply(dx, x.F32(), keep, float32(1/0.9))
	}
}

func BenchmarkDropoutHidden(b *testing.B)       { benchDropout(b, 2048, 768) }
func BenchmarkDropoutHiddenBwd(b *testing.B)    { benchDropoutBwd(b, 2048, 768) }
func BenchmarkDropoutAttention(b *testing.B)    { benchDropout(b, 16*12*128*128) }
func BenchmarkDropoutAttentionBwd(b *testing.B) { benchDropoutBwd(b, 16*12*128*128) }

// BenchmarkDropoutOp includes the op's allocations (output and bitset).
func BenchmarkDropoutOp(b *testing.B) {
	x := benchF32(2048, 768)
	r := NewRNG(1)
	b.SetBytes(int64(8 * x.NumElems()))
	b.ReportAllocs()
	for b.Loop() {
		Dropout(x, 0.1, r, true)
	}
}
