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
