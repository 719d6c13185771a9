package kernels

// directFlops is the m*n*k up to which a single-threaded product skips
// packing: for such sizes the operands stay in L1/L2 anyway, and packing
// them would cost about as much as the arithmetic.
const directFlops = 1 << 18

// useDirect reports whether g should take the unpacked path.
func (g *gemm) useDirect() bool {
	return haveStrided() && g.m*g.n*g.k <= directFlops
}

// runDirect computes the product single-threaded with the strided
// micro-kernel, reading A and B in place. Only what the kernel cannot read
// directly is packed: the ragged last row panel of A (zero-padded), and B
// strips that are transposed or ragged. The loops run B strip by B strip so
// that the strip stays in L1 while every row panel of A passes over it.
func (g *gemm) runDirect(ws *workspace) {
	m, n, k := g.m, g.n, g.k
	alpha, beta, c, ldc := g.alpha, g.beta, g.c, g.ldc
	ars, acs := g.lda, 1
	if g.transA {
		ars, acs = 1, g.lda
	}
	mFull := m / mr * mr
	if mFull < m {
		ws.edge = growAligned(ws.edge, k*mr)
		packA(ws.edge, g.transA, g.a, g.lda, mFull, m-mFull, 0, k)
	}
	for j := 0; j < n; j += nr {
		nb := min(nr, n-j)
		var bs []float32
		brs := nr
		if !g.transB && nb == nr {
			bs, brs = g.b[j:], g.ldb
		} else {
			ws.b = growAligned(ws.b, k*nr)
			packB(ws.b, g.transB, g.b, g.ldb, 0, k, j, nb)
			bs = ws.b
		}
		for i := 0; i < m; i += mr {
			as, tars, tacs := ws.edge, 1, mr
			if i < mFull {
				if g.transA {
					as = g.a[i:]
				} else {
					as = g.a[i*g.lda:]
				}
				tars, tacs = ars, acs
			}
			off := i*ldc + j
			if i < mFull && nb == nr {
				microKernelStrided(k, as, tars, tacs, bs, brs, c[off:], ldc, alpha, beta)
				continue
			}
			microKernelStrided(k, as, tars, tacs, bs, brs, ws.tmp[:], nr, 1, 0)
			rb := min(mr, m-i)
			mergeTile(ws.tmp[:], rb, nb, c[off:], ldc, alpha, beta)
		}
	}
}

// mergeTile stores the valid rb x nb corner of an mr x nr tile (row stride
// nr) into C: C = alpha*tile + beta*C, not reading C when beta == 0.
func mergeTile(tmp []float32, rb, nb int, c []float32, ldc int, alpha, beta float32) {
	for i := 0; i < rb; i++ {
		cr := c[i*ldc : i*ldc+nb]
		tr := tmp[i*nr : i*nr+nb]
		if beta == 0 {
			for j, v := range tr {
				cr[j] = alpha * v
			}
		} else {
			for j, v := range tr {
				cr[j] = alpha*v + beta*cr[j]
			}
		}
	}
}
