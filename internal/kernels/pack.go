package kernels

import "unsafe"

// growAligned returns a slice of n floats whose first element is 64-byte
// aligned (a cache line, so packed panels never straddle lines needlessly),
// reusing buf when it is already large enough.
func growAligned(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	raw := make([]float32, n+16)
	off := 0
	if r := uintptr(unsafe.Pointer(&raw[0])) & 63; r != 0 {
		off = int(64-r) / 4
	}
	return raw[off : off+n : off+n]
}

// packA packs rows [ic, ic+mb) and depth [pc, pc+kb) of op(A) into dst as
// ceil(mb/mr) micro-panels of kb x mr floats: element (i, p) of panel r is
// at r*mr*kb + p*mr + (i - r*mr). Rows past mb are zero, so the micro-kernel
// always runs on full panels.
func packA(dst []float32, transA bool, a []float32, lda, ic, mb, pc, kb int) {
	for r := 0; r < mb; r += mr {
		rb := min(mr, mb-r)
		d := dst[r*kb : r*kb+mr*kb]
		if rb == mr {
			packAFull(d, transA, a, lda, ic+r, pc, kb)
			continue
		}
		if transA {
			// op(A) row i is column i of the stored A: each depth p
			// gives rb contiguous floats.
			for p := 0; p < kb; p++ {
				src := a[(pc+p)*lda+ic+r:]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src[:rb])
				clear(dp[rb:])
			}
			continue
		}
		for i := 0; i < mr; i++ {
			if i >= rb {
				for p := 0; p < kb; p++ {
					d[p*mr+i] = 0
				}
				continue
			}
			src := a[(ic+r+i)*lda+pc : (ic+r+i)*lda+pc+kb]
			for p, v := range src {
				d[p*mr+i] = v
			}
		}
	}
}

// packB packs depth [pc, pc+kb) and columns [j0, j0+nb) of op(B) into dst as
// one kb x nr micro-panel: element (p, j) is at p*nr + (j - j0). Columns past
// nb are zero.
func packB(dst []float32, transB bool, b []float32, ldb, pc, kb, j0, nb int) {
	if nb == nr {
		packBFull(dst, transB, b, ldb, pc, kb, j0)
		return
	}
	if !transB {
		for p := 0; p < kb; p++ {
			dp := dst[p*nr : p*nr+nr]
			copy(dp, b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+nb])
			clear(dp[nb:])
		}
		return
	}
	// op(B) column j is row j of the stored B: read each stored row once
	// and scatter it down the micro-panel.
	for j := 0; j < nr; j++ {
		if j >= nb {
			for p := 0; p < kb; p++ {
				dst[p*nr+j] = 0
			}
			continue
		}
		src := b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kb]
		for p, v := range src {
			dst[p*nr+j] = v
		}
	}
}

// packAFullGo is the portable packAFull: one full micro-panel of op(A)
// (rows [i0, i0+mr), depth [pc, pc+kb)).
func packAFullGo(d []float32, transA bool, a []float32, lda, i0, pc, kb int) {
	d = d[:kb*mr]
	if transA {
		for p := 0; p < kb; p++ {
			copy(d[p*mr:p*mr+mr], a[(pc+p)*lda+i0:(pc+p)*lda+i0+mr])
		}
		return
	}
	for i := 0; i < mr; i++ {
		src := a[(i0+i)*lda+pc : (i0+i)*lda+pc+kb]
		for p, v := range src {
			d[p*mr+i] = v
		}
	}
}

// packBFullGo is the portable packBFull: one full micro-panel of op(B)
// (depth [pc, pc+kb), columns [j0, j0+nr)).
func packBFullGo(dst []float32, transB bool, b []float32, ldb, pc, kb, j0 int) {
	dst = dst[:kb*nr]
	if !transB {
		for p := 0; p < kb; p++ {
			copy(dst[p*nr:p*nr+nr], b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+nr])
		}
		return
	}
	for j := 0; j < nr; j++ {
		src := b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kb]
		for p, v := range src {
			dst[p*nr+j] = v
		}
	}
}
