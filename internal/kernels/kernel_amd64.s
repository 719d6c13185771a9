//go:build amd64 && !purego

#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// KSTEP is one depth step of the 6x16 micro-kernel: load the 16-float B row
// at bo(BX), then for each of the 6 A values at ao(AX) broadcast it and
// accumulate it times the B row into that row's two accumulators.
#define KSTEP(ao, bo) \
	VMOVUPS      bo(BX), Y12;      \
	VMOVUPS      bo+32(BX), Y13;   \
	VBROADCASTSS ao(AX), Y14;      \
	VFMADD231PS  Y12, Y14, Y0;     \
	VFMADD231PS  Y13, Y14, Y1;     \
	VBROADCASTSS ao+4(AX), Y15;    \
	VFMADD231PS  Y12, Y15, Y2;     \
	VFMADD231PS  Y13, Y15, Y3;     \
	VBROADCASTSS ao+8(AX), Y14;    \
	VFMADD231PS  Y12, Y14, Y4;     \
	VFMADD231PS  Y13, Y14, Y5;     \
	VBROADCASTSS ao+12(AX), Y15;   \
	VFMADD231PS  Y12, Y15, Y6;     \
	VFMADD231PS  Y13, Y15, Y7;     \
	VBROADCASTSS ao+16(AX), Y14;   \
	VFMADD231PS  Y12, Y14, Y8;     \
	VFMADD231PS  Y13, Y14, Y9;     \
	VBROADCASTSS ao+20(AX), Y15;   \
	VFMADD231PS  Y12, Y15, Y10;    \
	VFMADD231PS  Y13, Y15, Y11

// STOREROW_BETA merges accumulators lo, hi into the C row at DI:
// C = acc + beta*C, beta broadcast in Y15 (acc already holds alpha*AB).
#define STOREROW_BETA(lo, hi) \
	VFMADD231PS (DI), Y15, lo;   \
	VFMADD231PS 32(DI), Y15, hi; \
	VMOVUPS     lo, (DI);        \
	VMOVUPS     hi, 32(DI)

#define STOREROW(lo, hi) \
	VMOVUPS lo, (DI); \
	VMOVUPS hi, 32(DI)

// func sgemmKernel6x16(kb int, a, b, c *float32, ldc int, alpha, beta float32)
//
// Registers:
//   AX  packed A micro-panel, 6 floats (24 bytes) per depth step
//   BX  packed B micro-panel, 16 floats (64 bytes) per depth step
//   DI  C tile, walked row by row; R8 the prefetch cursor; DX = ldc in bytes
//   CX  depth steps left; R9 iterations of the loop unrolled by 4
//   Y0..Y11   accumulators: row i of the tile is Y(2i) (columns 0-7) and
//             Y(2i+1) (columns 8-15)
//   Y12, Y13  the current B row (16 floats)
//   Y14, Y15  broadcast A values, alternating so that consecutive rows do
//             not wait on the same register
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-48
	MOVQ kb+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	// Pull the C tile towards L1 while the product is computed: each
	// 64-byte row may straddle two cache lines.
	MOVQ       DI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail

loop4:
	// Prefetch A and B a few steps ahead (A: 16 steps, B: 16 steps).
	PREFETCHT0 384(AX)
	PREFETCHT0 1024(BX)
	PREFETCHT0 1088(BX)
	KSTEP(0, 0)
	KSTEP(24, 64)
	KSTEP(48, 128)
	KSTEP(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R9
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   store

loop1:
	KSTEP(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop1

store:
	VBROADCASTSS alpha+40(FP), Y14
	VMULPS       Y14, Y0, Y0
	VMULPS       Y14, Y1, Y1
	VMULPS       Y14, Y2, Y2
	VMULPS       Y14, Y3, Y3
	VMULPS       Y14, Y4, Y4
	VMULPS       Y14, Y5, Y5
	VMULPS       Y14, Y6, Y6
	VMULPS       Y14, Y7, Y7
	VMULPS       Y14, Y8, Y8
	VMULPS       Y14, Y9, Y9
	VMULPS       Y14, Y10, Y10
	VMULPS       Y14, Y11, Y11

	// beta == 0 (of either sign) must not read C.
	MOVL beta+44(FP), R10
	ANDL $0x7fffffff, R10
	JZ   overwrite

	VBROADCASTSS beta+44(FP), Y15
	STOREROW_BETA(Y0, Y1)
	ADDQ         DX, DI
	STOREROW_BETA(Y2, Y3)
	ADDQ         DX, DI
	STOREROW_BETA(Y4, Y5)
	ADDQ         DX, DI
	STOREROW_BETA(Y6, Y7)
	ADDQ         DX, DI
	STOREROW_BETA(Y8, Y9)
	ADDQ         DX, DI
	STOREROW_BETA(Y10, Y11)
	VZEROUPPER
	RET

overwrite:
	STOREROW(Y0, Y1)
	ADDQ DX, DI
	STOREROW(Y2, Y3)
	ADDQ DX, DI
	STOREROW(Y4, Y5)
	ADDQ DX, DI
	STOREROW(Y6, Y7)
	ADDQ DX, DI
	STOREROW(Y8, Y9)
	ADDQ DX, DI
	STOREROW(Y10, Y11)
	VZEROUPPER
	RET

// KSTEPS is one depth step of the strided 6x16 micro-kernel: B row at BX,
// A values at (R10), (R10)(R11), (R10)(R11*2), (R12), (R12)(R11),
// (R12)(R11*2); then every pointer moves one depth step on.
#define KSTEPS \
	VMOVUPS      (BX), Y12;          \
	VMOVUPS      32(BX), Y13;        \
	VBROADCASTSS (R10), Y14;         \
	VFMADD231PS  Y12, Y14, Y0;       \
	VFMADD231PS  Y13, Y14, Y1;       \
	VBROADCASTSS (R10)(R11*1), Y15;  \
	VFMADD231PS  Y12, Y15, Y2;       \
	VFMADD231PS  Y13, Y15, Y3;       \
	VBROADCASTSS (R10)(R11*2), Y14;  \
	VFMADD231PS  Y12, Y14, Y4;       \
	VFMADD231PS  Y13, Y14, Y5;       \
	VBROADCASTSS (R12), Y15;         \
	VFMADD231PS  Y12, Y15, Y6;       \
	VFMADD231PS  Y13, Y15, Y7;       \
	VBROADCASTSS (R12)(R11*1), Y14;  \
	VFMADD231PS  Y12, Y14, Y8;       \
	VFMADD231PS  Y13, Y14, Y9;       \
	VBROADCASTSS (R12)(R11*2), Y15;  \
	VFMADD231PS  Y12, Y15, Y10;      \
	VFMADD231PS  Y13, Y15, Y11;      \
	ADDQ         SI, BX;             \
	ADDQ         R13, R10;           \
	ADDQ         R13, R12

// func sgemmKernel6x16S(kb int, a *float32, ars, acs int, b *float32, brs int, c *float32, ldc int, alpha, beta float32)
//
// The strided micro-kernel reads its operands where they are instead of
// from packed panels: A element (i, p) is at a + i*ars + p*acs and B row p
// (16 floats) at b + p*brs, strides in floats. It serves small products,
// where packing would cost as much as the arithmetic. Same accumulator
// layout as sgemmKernel6x16; R10 and R12 address A rows 0 and 3, R11 is the
// A row stride, R13 the A depth stride, SI the B row stride (all in bytes).
TEXT ·sgemmKernel6x16S(SB), NOSPLIT, $0-72
	MOVQ kb+0(FP), CX
	MOVQ a+8(FP), R10
	MOVQ ars+16(FP), R11
	MOVQ acs+24(FP), R13
	MOVQ b+32(FP), BX
	MOVQ brs+40(FP), SI
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), DX
	SHLQ $2, R11
	SHLQ $2, R13
	SHLQ $2, SI
	SHLQ $2, DX
	LEAQ (R11)(R11*2), R12
	ADDQ R10, R12

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   stail

sloop4:
	KSTEPS
	KSTEPS
	KSTEPS
	KSTEPS
	DECQ R9
	JNZ  sloop4

stail:
	ANDQ $3, CX
	JZ   sstore

sloop1:
	KSTEPS
	DECQ CX
	JNZ  sloop1

sstore:
	VBROADCASTSS alpha+64(FP), Y14
	VMULPS       Y14, Y0, Y0
	VMULPS       Y14, Y1, Y1
	VMULPS       Y14, Y2, Y2
	VMULPS       Y14, Y3, Y3
	VMULPS       Y14, Y4, Y4
	VMULPS       Y14, Y5, Y5
	VMULPS       Y14, Y6, Y6
	VMULPS       Y14, Y7, Y7
	VMULPS       Y14, Y8, Y8
	VMULPS       Y14, Y9, Y9
	VMULPS       Y14, Y10, Y10
	VMULPS       Y14, Y11, Y11

	MOVL beta+68(FP), R8
	ANDL $0x7fffffff, R8
	JZ   soverwrite

	VBROADCASTSS beta+68(FP), Y15
	STOREROW_BETA(Y0, Y1)
	ADDQ         DX, DI
	STOREROW_BETA(Y2, Y3)
	ADDQ         DX, DI
	STOREROW_BETA(Y4, Y5)
	ADDQ         DX, DI
	STOREROW_BETA(Y6, Y7)
	ADDQ         DX, DI
	STOREROW_BETA(Y8, Y9)
	ADDQ         DX, DI
	STOREROW_BETA(Y10, Y11)
	VZEROUPPER
	RET

soverwrite:
	STOREROW(Y0, Y1)
	ADDQ DX, DI
	STOREROW(Y2, Y3)
	ADDQ DX, DI
	STOREROW(Y4, Y5)
	ADDQ DX, DI
	STOREROW(Y6, Y7)
	ADDQ DX, DI
	STOREROW(Y8, Y9)
	ADDQ DX, DI
	STOREROW(Y10, Y11)
	VZEROUPPER
	RET

// TRANSPOSE8 transposes the 8x8 block in Y0..Y7 (row i in Yi): afterwards
// column j is in Y(8+j). Y0..Y7 are clobbered. Step 1 interleaves row pairs,
// step 2 gathers 4-row groups within each 128-bit lane (lane 0 holds columns
// 0-3, lane 1 columns 4-7), step 3 joins rows 0-3 and 4-7 across lanes.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8;          \
	VUNPCKHPS  Y1, Y0, Y9;          \
	VUNPCKLPS  Y3, Y2, Y10;         \
	VUNPCKHPS  Y3, Y2, Y11;         \
	VUNPCKLPS  Y5, Y4, Y12;         \
	VUNPCKHPS  Y5, Y4, Y13;         \
	VUNPCKLPS  Y7, Y6, Y14;         \
	VUNPCKHPS  Y7, Y6, Y15;         \
	VSHUFPS    $0x44, Y10, Y8, Y0;  \
	VSHUFPS    $0xEE, Y10, Y8, Y1;  \
	VSHUFPS    $0x44, Y11, Y9, Y2;  \
	VSHUFPS    $0xEE, Y11, Y9, Y3;  \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xEE, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8;   \
	VPERM2F128 $0x20, Y5, Y1, Y9;   \
	VPERM2F128 $0x20, Y6, Y2, Y10;  \
	VPERM2F128 $0x20, Y7, Y3, Y11;  \
	VPERM2F128 $0x31, Y4, Y0, Y12;  \
	VPERM2F128 $0x31, Y5, Y1, Y13;  \
	VPERM2F128 $0x31, Y6, Y2, Y14;  \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func packA6N(kb int, a *float32, lda int, dst *float32)
//
// Packs 6 rows of row-major A (kb floats each, row stride lda) into a kb x 6
// micro-panel. Eight depth steps at a time: load 8 floats of each row (rows
// 6 and 7 are zero), transpose, and store the 8 columns; each column store
// writes 8 floats at a 6-float pitch, the extra two being overwritten by the
// next column, except the last column, which is stored as 4+2 floats.
// The six rows below this panel, which the next call packs, are
// prefetched as this one goes: the row pieces are often too short for the
// hardware prefetchers to pick up, and a fresh operand comes from DRAM.
//   SI, R10  rows 0-2 and 3-5 (SI + 3*lda); R9 = lda in bytes
//   R11, R12 rows 6-8 and 9-11 (prefetch only)
//   DI       destination; CX depth steps left
TEXT ·packA6N(SB), NOSPLIT, $0-32
	MOVQ kb+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	MOVQ dst+24(FP), DI
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	ADDQ SI, R10
	LEAQ (R10)(R9*2), R11
	ADDQ R9, R11
	LEAQ (R11)(R9*2), R12
	ADDQ R9, R12

	CMPQ CX, $8
	JLT  a6tail

a6loop8:
	PREFETCHT0 (R11)
	PREFETCHT0 (R11)(R9*1)
	PREFETCHT0 (R11)(R9*2)
	PREFETCHT0 (R12)
	PREFETCHT0 (R12)(R9*1)
	PREFETCHT0 (R12)(R9*2)
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R9*1), Y1
	VMOVUPS (SI)(R9*2), Y2
	VMOVUPS (R10), Y3
	VMOVUPS (R10)(R9*1), Y4
	VMOVUPS (R10)(R9*2), Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 24(DI)
	VMOVUPS Y10, 48(DI)
	VMOVUPS Y11, 72(DI)
	VMOVUPS Y12, 96(DI)
	VMOVUPS Y13, 120(DI)
	VMOVUPS Y14, 144(DI)
	VMOVUPS X15, 168(DI)
	VEXTRACTF128 $1, Y15, X15
	VMOVQ   X15, 184(DI)
	ADDQ    $32, SI
	ADDQ    $32, R10
	ADDQ    $32, R11
	ADDQ    $32, R12
	ADDQ    $192, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     a6loop8

a6tail:
	TESTQ CX, CX
	JZ    a6done

a6loop1:
	VMOVSS (SI), X0
	VMOVSS X0, (DI)
	VMOVSS (SI)(R9*1), X0
	VMOVSS X0, 4(DI)
	VMOVSS (SI)(R9*2), X0
	VMOVSS X0, 8(DI)
	VMOVSS (R10), X0
	VMOVSS X0, 12(DI)
	VMOVSS (R10)(R9*1), X0
	VMOVSS X0, 16(DI)
	VMOVSS (R10)(R9*2), X0
	VMOVSS X0, 20(DI)
	ADDQ   $4, SI
	ADDQ   $4, R10
	ADDQ   $24, DI
	DECQ   CX
	JNZ    a6loop1

a6done:
	VZEROUPPER
	RET

// func packA6T(kb int, a *float32, lda int, dst *float32)
//
// Packs a kb x 6 micro-panel of transposed A: depth step p is the 6
// contiguous floats at a + p*lda, copied as 4+2.
TEXT ·packA6T(SB), NOSPLIT, $0-32
	MOVQ kb+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	MOVQ dst+24(FP), DI
	SHLQ $2, R9
	TESTQ CX, CX
	JZ    t6done

t6loop:
	VMOVUPS (SI), X0
	VMOVQ   16(SI), X1
	VMOVUPS X0, (DI)
	VMOVQ   X1, 16(DI)
	ADDQ    R9, SI
	ADDQ    $24, DI
	DECQ    CX
	JNZ     t6loop

t6done:
	RET

// func packB16N(kb int, b *float32, ldb int, dst *float32)
//
// Packs a kb x 16 micro-panel of row-major B: depth step p is the 16
// contiguous floats at b + p*ldb.
TEXT ·packB16N(SB), NOSPLIT, $0-32
	MOVQ kb+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R9
	MOVQ dst+24(FP), DI
	SHLQ $2, R9
	TESTQ CX, CX
	JZ    b16done

b16loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R9, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     b16loop

b16done:
	VZEROUPPER
	RET

// LOAD8ROWS loads 8 floats from each of 8 rows into Y0..Y7: rows 0-2 at
// base0 + {0,1,2}*ldb, rows 3-5 at base3, rows 6-7 at base6 (R9 = ldb bytes).
#define LOAD8ROWS(base0, base3, base6) \
	VMOVUPS (base0), Y0;         \
	VMOVUPS (base0)(R9*1), Y1;   \
	VMOVUPS (base0)(R9*2), Y2;   \
	VMOVUPS (base3), Y3;         \
	VMOVUPS (base3)(R9*1), Y4;   \
	VMOVUPS (base3)(R9*2), Y5;   \
	VMOVUPS (base6), Y6;         \
	VMOVUPS (base6)(R9*1), Y7

// STORECOLS stores the 8 transposed columns (see TRANSPOSE8) at a 64-byte
// pitch starting at off(DI).
#define STORECOLS(off) \
	VMOVUPS Y8, off(DI);      \
	VMOVUPS Y9, off+64(DI);   \
	VMOVUPS Y10, off+128(DI); \
	VMOVUPS Y11, off+192(DI); \
	VMOVUPS Y12, off+256(DI); \
	VMOVUPS Y13, off+320(DI); \
	VMOVUPS Y14, off+384(DI); \
	VMOVUPS Y15, off+448(DI)

// func packB16T(kb int, b *float32, ldb int, dst *float32)
//
// Packs a kb x 16 micro-panel of transposed B: column j of the panel is the
// stored row b + j*ldb. Eight depth steps at a time, rows 0-7 and rows 8-15
// are each transposed as an 8x8 block and stored as the left and right
// halves of 8 panel rows.
//   SI, R10, R11  rows 0, 3, 6; R12, R13, R14 rows 8, 11, 14; R9 = ldb bytes
TEXT ·packB16T(SB), NOSPLIT, $0-32
	MOVQ kb+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R9
	MOVQ dst+24(FP), DI
	SHLQ $2, R9
	LEAQ (R9)(R9*2), AX
	LEAQ (SI)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	LEAQ (SI)(R9*8), R12
	LEAQ (R12)(AX*1), R13
	LEAQ (R13)(AX*1), R14

	CMPQ CX, $8
	JLT  bt_tail

bt_loop8:
	LOAD8ROWS(SI, R10, R11)
	TRANSPOSE8
	STORECOLS(0)
	LOAD8ROWS(R12, R13, R14)
	TRANSPOSE8
	STORECOLS(32)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, R14
	ADDQ $512, DI
	SUBQ $8, CX
	CMPQ CX, $8
	JGE  bt_loop8

bt_tail:
	TESTQ CX, CX
	JZ    bt_done

bt_loop1:
	VMOVSS (SI), X0
	VMOVSS X0, (DI)
	VMOVSS (SI)(R9*1), X0
	VMOVSS X0, 4(DI)
	VMOVSS (SI)(R9*2), X0
	VMOVSS X0, 8(DI)
	VMOVSS (R10), X0
	VMOVSS X0, 12(DI)
	VMOVSS (R10)(R9*1), X0
	VMOVSS X0, 16(DI)
	VMOVSS (R10)(R9*2), X0
	VMOVSS X0, 20(DI)
	VMOVSS (R11), X0
	VMOVSS X0, 24(DI)
	VMOVSS (R11)(R9*1), X0
	VMOVSS X0, 28(DI)
	VMOVSS (R12), X0
	VMOVSS X0, 32(DI)
	VMOVSS (R12)(R9*1), X0
	VMOVSS X0, 36(DI)
	VMOVSS (R12)(R9*2), X0
	VMOVSS X0, 40(DI)
	VMOVSS (R13), X0
	VMOVSS X0, 44(DI)
	VMOVSS (R13)(R9*1), X0
	VMOVSS X0, 48(DI)
	VMOVSS (R13)(R9*2), X0
	VMOVSS X0, 52(DI)
	VMOVSS (R14), X0
	VMOVSS X0, 56(DI)
	VMOVSS (R14)(R9*1), X0
	VMOVSS X0, 60(DI)
	ADDQ   $4, SI
	ADDQ   $4, R10
	ADDQ   $4, R11
	ADDQ   $4, R12
	ADDQ   $4, R13
	ADDQ   $4, R14
	ADDQ   $64, DI
	DECQ   CX
	JNZ    bt_loop1

bt_done:
	VZEROUPPER
	RET
