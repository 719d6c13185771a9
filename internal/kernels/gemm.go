// Package kernels holds kiln's compute kernels: SGEMM and the fused
// memory-bound kernels. Slices are row-major; leading dimensions (lda, ldb,
// ldc) are the row strides of the stored matrices.
package kernels

import (
	"runtime"
	"sync"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(A) is m x k (A is stored k x m when transA) and op(B) is k x n (B is stored
// n x k when transB). C is m x n with row stride ldc. beta == 0 overwrites C
// without reading it (NaNs in C do not propagate), as BLAS does.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	g := gemmPool.Get().(*gemm)
	g.set(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	g.run(m*n*k >= parallelFlops && workers() > 1)
	g.release()
	gemmPool.Put(g)
}

// SgemmBatched runs batch independent Sgemm calls; operand i starts at
// i*strideA, i*strideB and i*strideC. A stride of 0 reuses the same matrix for
// every batch entry (broadcast).
func SgemmBatched(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if batch <= 0 || m <= 0 || n <= 0 {
		return
	}
	// Large entries parallelise well on their own, a single entry has
	// nothing to spread, and a tiny batch is not worth waking workers for:
	// run the entries one after the other (each one threaded if large).
	if batch == 1 || k <= 0 || m*n*k >= batchSerialFlops || batch*m*n*k < parallelFlops || workers() == 1 {
		for i := 0; i < batch; i++ {
			Sgemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
		}
		return
	}
	// Many small entries (attention heads): each worker takes whole entries
	// and runs them single-threaded, so no entry pays for synchronisation.
	bj := batchPool.Get().(*batchJob)
	bj.g = gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	bj.strideA, bj.strideB, bj.strideC = strideA, strideB, strideC
	parallel.For(batch, parallel.Split(batch, 1, 4), bj.fn)
	bj.g = gemm{}
	batchPool.Put(bj)
}

// workers is how many goroutines can usefully share a GEMM: the pool's
// size, capped by GOMAXPROCS in case GOMAXPROCS was lowered after the pool
// started (as go test -cpu does).
func workers() int {
	return min(parallel.Workers(), runtime.GOMAXPROCS(0))
}

// Tuning constants. The packed A block (mcBlock x kcBlock floats, 144 KiB)
// stays in the 1 MiB L2 of a Zen core, one packed B micro-panel (kcBlock x nr
// floats, 16 KiB) stays in the 32 KiB L1 while the micro-kernel walks down the
// A block, and the packed B chunk (k x up to bChunkFloats/k columns) lives in
// L3 and is shared by every worker.
const (
	kcBlock = 256
	mcBlock = 144 // a multiple of every mr
	// bChunkFloats bounds the packed B chunk; columns of B are processed in
	// chunks of at most this many packed floats.
	bChunkFloats = 4 << 20
	// parallelFlops is the m*n*k above which Sgemm splits work across the
	// worker pool; below it the wake-up cost is not worth paying.
	parallelFlops = 1 << 20
	// batchSerialFlops is the m*n*k at or above which SgemmBatched runs the
	// entries one after the other, each parallel on its own.
	batchSerialFlops = 1 << 24
	// interleaveFloats is the largest packed B block (kb x columns) for
	// which A is packed one micro-panel at a time (macroInterleaved).
	interleaveFloats = 64 << 10
	// tasksPerWorker is how many compute tasks each worker gets on average:
	// more than one lets a fast worker take over work from a slow one.
	tasksPerWorker = 2
)

// gemm is one Sgemm call: its operands, the packed B chunk shared by all the
// workers, and the task grid. It is pooled with its buffers and its bound
// method values, so a steady stream of calls does not allocate.
type gemm struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	// Current column chunk of B: columns [jc, jc+nc) of op(B), packed into
	// bp. ncPad is nc rounded up to nr. For each k block starting at pc
	// (kb = its depth) the chunk holds ncPad*kb floats at offset pc*ncPad:
	// ncPad/nr micro-panels, each kb x nr, row p of micro-panel s at
	// pc*ncPad + s*nr*kb + p*nr.
	jc, nc, ncPad int
	bp, bbuf      []float32

	// Task grid over the current chunk: mParts row ranges of rowsPer rows
	// (a multiple of mr) times nParts column ranges of colsPer columns (a
	// multiple of nr).
	mParts, nParts   int
	rowsPer, colsPer int

	packFn, computeFn func(lo, hi int)
}

var gemmPool = sync.Pool{New: func() any {
	g := new(gemm)
	g.packFn = g.packRange
	g.computeFn = g.computeRange
	return g
}}

// batchJob is one SgemmBatched call spread over the worker pool.
type batchJob struct {
	g                         gemm
	strideA, strideB, strideC int
	fn                        func(lo, hi int)
}

var batchPool = sync.Pool{New: func() any {
	bj := new(batchJob)
	bj.fn = bj.runRange
	return bj
}}

// runRange runs batch entries [lo, hi) single-threaded on one pooled gemm.
func (bj *batchJob) runRange(lo, hi int) {
	g := gemmPool.Get().(*gemm)
	s := &bj.g
	for i := lo; i < hi; i++ {
		g.set(s.transA, s.transB, s.m, s.n, s.k, s.alpha, s.a[i*bj.strideA:], s.lda, s.b[i*bj.strideB:], s.ldb, s.beta, s.c[i*bj.strideC:], s.ldc)
		g.run(false)
	}
	g.release()
	gemmPool.Put(g)
}

func (g *gemm) set(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.transA, g.transB = transA, transB
	g.m, g.n, g.k = m, n, k
	g.alpha, g.beta = alpha, beta
	g.a, g.lda = a, lda
	g.b, g.ldb = b, ldb
	g.c, g.ldc = c, ldc
}

// release drops the operand references so the pool does not keep the
// caller's matrices alive.
func (g *gemm) release() {
	g.a, g.b, g.c, g.bp = nil, nil, nil, nil
}

// run computes the product chunk by chunk of B's columns: pack the chunk of
// op(B) (all of k), then let the tasks compute their part of C from it.
func (g *gemm) run(par bool) {
	if !par && g.useDirect() {
		ws := wsPool.Get().(*workspace)
		g.runDirect(ws)
		wsPool.Put(ws)
		return
	}
	ncMax := max(bChunkFloats/g.k/nr*nr, nr)
	for jc := 0; jc < g.n; jc += ncMax {
		nc := min(ncMax, g.n-jc)
		g.jc, g.nc = jc, nc
		g.ncPad = (nc + nr - 1) / nr * nr
		g.bbuf = growAligned(g.bbuf, g.k*g.ncPad)
		g.bp = g.bbuf
		strips := g.ncPad / nr
		mt := (g.m + mr - 1) / mr
		if !par {
			g.mParts, g.nParts = 1, 1
			g.rowsPer, g.colsPer = mt*mr, g.ncPad
			g.packRange(0, strips)
			g.computeRange(0, 1)
			continue
		}
		w := workers()
		parallel.For(strips, parallel.Split(strips, 4, 2), g.packFn)
		// Split the rows when there are enough of them: every task then
		// reads the whole shared B chunk and packs only its own rows of
		// A. With few rows, split the columns instead.
		parts := w * tasksPerWorker
		if mt >= 2*w {
			g.mParts, g.nParts = min(mt, parts), 1
		} else {
			g.mParts, g.nParts = 1, min(strips, parts)
		}
		g.rowsPer = (mt + g.mParts - 1) / g.mParts * mr
		g.mParts = (g.m + g.rowsPer - 1) / g.rowsPer
		g.colsPer = (strips + g.nParts - 1) / g.nParts * nr
		g.nParts = (g.ncPad + g.colsPer - 1) / g.colsPer
		parallel.For(g.mParts*g.nParts, 1, g.computeFn)
	}
}

// packRange packs micro-panels [lo, hi) of the current B chunk for every k
// block.
func (g *gemm) packRange(lo, hi int) {
	for pc := 0; pc < g.k; pc += kcBlock {
		kb := min(kcBlock, g.k-pc)
		base := pc * g.ncPad
		for s := lo; s < hi; s++ {
			j := s * nr
			dst := g.bp[base+s*nr*kb : base+(s+1)*nr*kb]
			packB(dst, g.transB, g.b, g.ldb, pc, kb, g.jc+j, min(nr, g.nc-j))
		}
	}
}

// computeRange runs tasks [lo, hi) of the grid, each with its own pooled
// A-packing workspace.
func (g *gemm) computeRange(lo, hi int) {
	ws := wsPool.Get().(*workspace)
	ws.a = growAligned(ws.a, mcBlock*kcBlock)
	for t := lo; t < hi; t++ {
		tm, tn := t/g.nParts, t%g.nParts
		m0 := tm * g.rowsPer
		m1 := min(m0+g.rowsPer, g.m)
		n0 := tn * g.colsPer
		n1 := min(n0+g.colsPer, g.nc)
		g.compute(ws, m0, m1, n0, n1)
	}
	wsPool.Put(ws)
}

// workspace is one task's scratch: the packed A block and the edge tile.
type workspace struct {
	a    []float32
	b    []float32 // one packed B strip (unpacked path)
	edge []float32 // the ragged A row panel (unpacked path)
	tmp  [mr * nr]float32
}

var wsPool = sync.Pool{New: func() any { return new(workspace) }}

// compute updates C rows [m0, m1) and chunk columns [n0, n1) (n0 a multiple
// of nr) from the packed B chunk, packing blocks of A as it goes.
func (g *gemm) compute(ws *workspace, m0, m1, n0, n1 int) {
	for pc := 0; pc < g.k; pc += kcBlock {
		kb := min(kcBlock, g.k-pc)
		beta := g.beta
		if pc > 0 {
			beta = 1 // later k blocks accumulate onto the first one's result
		}
		bpc := g.bp[pc*g.ncPad : pc*g.ncPad+kb*g.ncPad]
		if (n1-n0)*kb <= interleaveFloats {
			g.macroInterleaved(ws, m0, m1, n0, n1, pc, kb, bpc, beta)
			continue
		}
		for ic := m0; ic < m1; ic += mcBlock {
			mb := min(mcBlock, m1-ic)
			packA(ws.a, g.transA, g.a, g.lda, ic, mb, pc, kb)
			g.macro(ws, ic, mb, n0, n1, kb, bpc, beta)
		}
	}
}

// macro multiplies one packed A block (mb x kb) by the packed B micro-panels
// covering chunk columns [n0, n1). The B micro-panel is the outer loop so it
// stays in L1 while the A micro-panels stream from L2.
func (g *gemm) macro(ws *workspace, ic, mb, n0, n1, kb int, bpc []float32, beta float32) {
	alpha, c, ldc := g.alpha, g.c, g.ldc
	for jr := n0; jr < n1; jr += nr {
		nb := min(nr, n1-jr)
		bs := bpc[jr*kb : jr*kb+nr*kb]
		for ir := 0; ir < mb; ir += mr {
			rb := min(mr, mb-ir)
			as := ws.a[ir*kb : ir*kb+mr*kb]
			off := (ic+ir)*ldc + g.jc + jr
			if rb == mr && nb == nr {
				microKernel(kb, as, bs, c[off:off+(mr-1)*ldc+nr], ldc, alpha, beta)
				continue
			}
			// Edge tile: compute the full padded tile into tmp, then
			// merge only the valid part into C.
			microKernel(kb, as, bs, ws.tmp[:], nr, 1, 0)
			mergeTile(ws.tmp[:], rb, nb, c[off:], ldc, alpha, beta)
		}
	}
}

// macroInterleaved is the macro-kernel for a narrow B block (at most
// interleaveFloats packed floats, so it stays in L2): it packs one A
// micro-panel at a time and runs it against every B micro-panel at once.
// Packing then overlaps with arithmetic (the packer prefetches the next
// panel's rows while the kernels run), which matters when A comes cold from
// memory, as in batched attention products.
func (g *gemm) macroInterleaved(ws *workspace, m0, m1, n0, n1, pc, kb int, bpc []float32, beta float32) {
	alpha, c, ldc := g.alpha, g.c, g.ldc
	as := ws.a[:mr*kb]
	for ir := m0; ir < m1; ir += mr {
		rb := min(mr, m1-ir)
		packA(as, g.transA, g.a, g.lda, ir, rb, pc, kb)
		for jr := n0; jr < n1; jr += nr {
			nb := min(nr, n1-jr)
			bs := bpc[jr*kb : jr*kb+nr*kb]
			off := ir*ldc + g.jc + jr
			if rb == mr && nb == nr {
				microKernel(kb, as, bs, c[off:off+(mr-1)*ldc+nr], ldc, alpha, beta)
				continue
			}
			microKernel(kb, as, bs, ws.tmp[:], nr, 1, 0)
			mergeTile(ws.tmp[:], rb, nb, c[off:], ldc, alpha, beta)
		}
	}
}

// scaleC sets C = beta*C (C = 0 when beta == 0, without reading C).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// sgemmRef is the plain reference implementation the fast paths are tested
// against.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	GemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmRef is the plain triple-loop C = alpha*op(A)*op(B) + beta*C with the
// layout rules of Sgemm, for float32 or float64. It is the oracle of the
// kernel tests and the float64 matmul of the tensor engine's gradient checks;
// it is not fast.
func GemmRef[T float32 | float64](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av T
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if transB {
				for j := 0; j < n; j++ {
					row[j] += av * b[j*ldb+p]
				}
			} else {
				br := b[p*ldb : p*ldb+n]
				for j, bv := range br {
					row[j] += av * bv
				}
			}
		}
	}
}
