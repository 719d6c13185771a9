package kernels

import (
	"fmt"
	"testing"
)

// Benchmarks: one op is 2048 rows of 3072, 768 or 128 elements, each row a
// separate call (as the worker pool makes them); SetBytes counts the bytes
// read and written per op. "asm" is the AVX2+FMA path, "go" the pure-Go
// fallback. Run e.g.
//
//	go test -run '^$' -bench 'Vec' -benchtime 5x -count 5 ./internal/kernels/

const benchRowsN = 2048

func benchVec(b *testing.B, arrays, bytesPerElem int, row func(bufs [][]float32, lo, hi int)) {
	saved := useVecAsm
	defer func() { useVecAsm = saved }()
	impls := []string{"go"}
	if haveVecAsm && saved {
		impls = []string{"asm", "go"}
	}
	for _, impl := range impls {
		for _, n := range []int{3072, 768, 128} {
			b.Run(fmt.Sprintf("%s/n=%d", impl, n), func(b *testing.B) {
				useVecAsm = impl == "asm"
				r := newRand()
				bufs := make([][]float32, arrays)
				for i := range bufs {
					bufs[i] = normal(r, n*benchRowsN, 0, 1)
				}
				b.SetBytes(int64(bytesPerElem * n * benchRowsN))
				b.ResetTimer()
				for b.Loop() {
					for k := 0; k < benchRowsN; k++ {
						row(bufs, k*n, (k+1)*n)
					}
				}
			})
		}
	}
}

func BenchmarkVecExp(b *testing.B) {
	benchVec(b, 2, 8, func(x [][]float32, lo, hi int) { ExpF32(x[0][lo:hi], x[1][lo:hi]) })
}

func BenchmarkVecGELU(b *testing.B) {
	benchVec(b, 3, 12, func(x [][]float32, lo, hi int) {
		GELUF32(x[0][lo:hi], x[1][lo:hi], x[2][:hi-lo])
	})
}

func BenchmarkVecGELUBackward(b *testing.B) {
	benchVec(b, 4, 16, func(x [][]float32, lo, hi int) {
		GELUBackwardF32(x[0][lo:hi], x[1][lo:hi], x[2][:hi-lo], x[3][lo:hi])
	})
}

func BenchmarkVecGELUTanh(b *testing.B) {
	benchVec(b, 3, 12, func(x [][]float32, lo, hi int) {
		GELUTanhF32(x[0][lo:hi], x[1][lo:hi], x[2][:hi-lo])
	})
}

func BenchmarkVecGELUTanhBackward(b *testing.B) {
	benchVec(b, 4, 16, func(x [][]float32, lo, hi int) {
		GELUTanhBackwardF32(x[0][lo:hi], x[1][lo:hi], x[2][:hi-lo], x[3][lo:hi])
	})
}

func BenchmarkVecSoftmax(b *testing.B) {
	benchVec(b, 2, 8, func(x [][]float32, lo, hi int) { SoftmaxF32(x[0][lo:hi], x[1][lo:hi]) })
}

func BenchmarkVecSoftmaxBackward(b *testing.B) {
	benchVec(b, 3, 12, func(x [][]float32, lo, hi int) {
		SoftmaxBackwardF32(x[0][lo:hi], x[1][lo:hi], x[2][lo:hi])
	})
}

func BenchmarkVecLogSoftmax(b *testing.B) {
	benchVec(b, 2, 8, func(x [][]float32, lo, hi int) { LogSoftmaxF32(x[0][lo:hi], x[1][lo:hi]) })
}

func BenchmarkVecLogSoftmaxBackward(b *testing.B) {
	benchVec(b, 3, 12, func(x [][]float32, lo, hi int) {
		LogSoftmaxBackwardF32(x[0][lo:hi], x[1][lo:hi], x[2][lo:hi])
	})
}

func BenchmarkVecLayerNorm(b *testing.B) {
	benchVec(b, 4, 8, func(x [][]float32, lo, hi int) {
		LayerNormF32(x[0][lo:hi], x[1][lo:hi], x[2][:hi-lo], x[3][:hi-lo], 1e-5)
	})
}

func BenchmarkVecLayerNormBackward(b *testing.B) {
	benchVec(b, 6, 12, func(x [][]float32, lo, hi int) {
		n := hi - lo
		LayerNormBackwardF32(x[0][lo:hi], x[1][:n], x[2][:n], x[3][lo:hi], x[4][:n], x[5][lo:hi], 0.1, 1.1)
	})
}

func BenchmarkVecAdamW(b *testing.B) {
	benchVec(b, 4, 28, func(x [][]float32, lo, hi int) {
		for i := lo; i < hi; i++ {
			x[3][i] = x[3][i] * x[3][i] // v >= 0
		}
		AdamWF32(x[0][lo:hi], x[1][lo:hi], x[2][lo:hi], x[3][lo:hi], 1e-3, 0.9, 0.999, 1e-8, 0.01, 0.1, 0.001)
	})
}

func BenchmarkVecAxpy(b *testing.B) {
	benchVec(b, 2, 12, func(x [][]float32, lo, hi int) { AxpyF32(x[0][lo:hi], x[1][lo:hi], 0.5) })
}

func BenchmarkVecAdd(b *testing.B) {
	benchVec(b, 3, 12, func(x [][]float32, lo, hi int) { AddF32(x[0][lo:hi], x[1][lo:hi], x[2][lo:hi]) })
}

func BenchmarkVecDot(b *testing.B) {
	benchVec(b, 2, 8, func(x [][]float32, lo, hi int) { DotF32(x[0][lo:hi], x[1][lo:hi]) })
}

func BenchmarkVecSum(b *testing.B) {
	benchVec(b, 1, 4, func(x [][]float32, lo, hi int) { SumF32(x[0][lo:hi]) })
}

func BenchmarkVecMax(b *testing.B) {
	benchVec(b, 1, 4, func(x [][]float32, lo, hi int) { MaxF32(x[0][lo:hi]) })
}
