//go:build amd64 && !purego

package kernels

// The AVX2+FMA micro-kernel computes a 6 x 16 tile of C: twelve ymm
// accumulators (two per row), two ymm registers for the current packed B row
// and two for broadcast A values, which is all sixteen ymm registers.
const (
	mr = 6
	nr = 16
)

// useAsm selects the assembly micro-kernel; it is false on CPUs without AVX2
// and FMA (tests also flip it to cover the portable kernel).
var useAsm = hasAVX2FMA()

// hasAVX2FMA reports whether the CPU and the OS support AVX2 and FMA3.
func hasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	// The OS must save the xmm and ymm state (XCR0 bits 1 and 2).
	if eax, _ := xgetbv(); eax&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const avx2 = 1 << 5
	return ebx7&avx2 != 0
}

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// sgemmKernel6x16 is the assembly micro-kernel: C[0:6, 0:16] (row stride ldc
// floats) = alpha * A*B + beta * C, where a points at a packed kb x 6 A
// micro-panel and b at a packed kb x 16 B micro-panel. C is not read when
// beta == 0.
//
//go:noescape
func sgemmKernel6x16(kb int, a, b, c *float32, ldc int, alpha, beta float32)

// microKernel computes one mr x nr tile; see kernelGeneric for the contract.
func microKernel(kb int, a, b, c []float32, ldc int, alpha, beta float32) {
	if !useAsm {
		kernelGeneric(kb, a, b, c, ldc, alpha, beta)
		return
	}
	_ = a[kb*mr-1]
	_ = b[kb*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	sgemmKernel6x16(kb, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// The packing routines below copy one full micro-panel with AVX2 (8x8
// transposes where the panel runs across the stored rows). Their Go
// wrappers check every bound the assembly touches.

//go:noescape
func packA6N(kb int, a *float32, lda int, dst *float32)

//go:noescape
func packA6T(kb int, a *float32, lda int, dst *float32)

//go:noescape
func packB16N(kb int, b *float32, ldb int, dst *float32)

//go:noescape
func packB16T(kb int, b *float32, ldb int, dst *float32)

// packAFull packs rows [i0, i0+mr) and depth [pc, pc+kb) of op(A) into one
// kb x mr micro-panel.
func packAFull(d []float32, transA bool, a []float32, lda, i0, pc, kb int) {
	if !useAsm {
		packAFullGo(d, transA, a, lda, i0, pc, kb)
		return
	}
	_ = d[kb*mr-1]
	if transA {
		o := pc*lda + i0
		_ = a[o+(kb-1)*lda+mr-1]
		packA6T(kb, &a[o], lda, &d[0])
		return
	}
	o := i0*lda + pc
	_ = a[o+(mr-1)*lda+kb-1]
	packA6N(kb, &a[o], lda, &d[0])
}

// packBFull packs depth [pc, pc+kb) and columns [j0, j0+nr) of op(B) into
// one kb x nr micro-panel.
func packBFull(dst []float32, transB bool, b []float32, ldb, pc, kb, j0 int) {
	if !useAsm {
		packBFullGo(dst, transB, b, ldb, pc, kb, j0)
		return
	}
	_ = dst[kb*nr-1]
	if transB {
		o := j0*ldb + pc
		_ = b[o+(nr-1)*ldb+kb-1]
		packB16T(kb, &b[o], ldb, &dst[0])
		return
	}
	o := pc*ldb + j0
	_ = b[o+(kb-1)*ldb+nr-1]
	packB16N(kb, &b[o], ldb, &dst[0])
}

// sgemmKernel6x16S is the strided micro-kernel: like sgemmKernel6x16, but A
// element (i, p) is at a[i*ars+p*acs] and B row p (16 floats) at b[p*brs],
// so operands can be read in place.
//
//go:noescape
func sgemmKernel6x16S(kb int, a *float32, ars, acs int, b *float32, brs int, c *float32, ldc int, alpha, beta float32)

// haveStrided reports whether microKernelStrided is available; without it
// every product takes the packed path.
func haveStrided() bool { return useAsm }

// microKernelStrided computes one mr x nr tile from operands read in place:
// A element (i, p) at a[i*ars+p*acs], B element (p, j) at b[p*brs+j].
func microKernelStrided(kb int, a []float32, ars, acs int, b []float32, brs int, c []float32, ldc int, alpha, beta float32) {
	_ = a[(mr-1)*ars+(kb-1)*acs]
	_ = b[(kb-1)*brs+nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	sgemmKernel6x16S(kb, &a[0], ars, acs, &b[0], brs, &c[0], ldc, alpha, beta)
}
