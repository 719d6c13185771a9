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
		if rb == mr {
			packARows(d, a, lda, ic+r, pc, kb)
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

// packARows packs one full micro-panel of non-transposed A (rows [i0,
// i0+mr)), writing the panel sequentially.
func packARows(d, a []float32, lda, i0, pc, kb int) {
	var rows [mr][]float32
	for i := range rows {
		rows[i] = a[(i0+i)*lda+pc : (i0+i)*lda+pc+kb]
	}
	d = d[:kb*mr]
	for p := 0; p < kb; p++ {
		dp := d[p*mr : p*mr+mr]
		for i := range rows {
			dp[i] = rows[i][p]
		}
	}
}
