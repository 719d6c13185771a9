//go:build !amd64 || purego

package kernels

// The portable micro-kernel computes a 4 x 4 tile: sixteen scalar
// accumulators plus four A and four B values fit the float registers of
// common 64-bit targets without spilling much.
const (
	mr = 4
	nr = 4
)

// microKernel computes one mr x nr tile; see kernelGeneric for the contract.
func microKernel(kb int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:kb*4]
	b = b[:kb*4]
	for len(a) >= 4 && len(b) >= 4 {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		a = a[4:]
		b = b[4:]
	}
	acc := [mr * nr]float32{
		c00, c01, c02, c03,
		c10, c11, c12, c13,
		c20, c21, c22, c23,
		c30, c31, c32, c33,
	}
	storeTile(acc[:], c, ldc, alpha, beta)
}

// packAFull packs rows [i0, i0+mr) and depth [pc, pc+kb) of op(A) into one
// kb x mr micro-panel.
func packAFull(d []float32, transA bool, a []float32, lda, i0, pc, kb int) {
	packAFullGo(d, transA, a, lda, i0, pc, kb)
}

// packBFull packs depth [pc, pc+kb) and columns [j0, j0+nr) of op(B) into
// one kb x nr micro-panel.
func packBFull(dst []float32, transB bool, b []float32, ldb, pc, kb, j0 int) {
	packBFullGo(dst, transB, b, ldb, pc, kb, j0)
}

// haveStrided reports whether microKernelStrided is available; the portable
// build always packs.
func haveStrided() bool { return false }

// microKernelStrided is never called in the portable build.
func microKernelStrided(kb int, a []float32, ars, acs int, b []float32, brs int, c []float32, ldc int, alpha, beta float32) {
	panic("kernels: no strided micro-kernel")
}
