// Code layout: constants, CPU detection, then the kernels in the order of
// vec.go. See the header comment below for the register conventions.

//go:build amd64 && !purego

#include "textflag.h"

// C8(off, bits) fills one 32-byte slot of vecConsts with 8 copies of a
// float32 (or int32) bit pattern.
#define C8(off, v) DATA ·vecConsts+(off)(SB)/4, v; DATA ·vecConsts+(off+4)(SB)/4, v; DATA ·vecConsts+(off+8)(SB)/4, v; DATA ·vecConsts+(off+12)(SB)/4, v; DATA ·vecConsts+(off+16)(SB)/4, v; DATA ·vecConsts+(off+20)(SB)/4, v; DATA ·vecConsts+(off+24)(SB)/4, v; DATA ·vecConsts+(off+28)(SB)/4, v

#define LOG2E ·vecConsts+0(SB)
#define MAGIC ·vecConsts+32(SB)
#define LN2HI ·vecConsts+64(SB)
#define LN2LO ·vecConsts+96(SB)
#define C7 ·vecConsts+128(SB)
#define C6 ·vecConsts+160(SB)
#define C5 ·vecConsts+192(SB)
#define C4 ·vecConsts+224(SB)
#define C3 ·vecConsts+256(SB)
#define HALF ·vecConsts+288(SB)
#define ONE ·vecConsts+320(SB)
#define EXPHI ·vecConsts+352(SB)
#define EXPLO ·vecConsts+384(SB)
#define I127 ·vecConsts+416(SB)
#define ABSMASK ·vecConsts+448(SB)
#define CLIP ·vecConsts+480(SB)
#define TQ ·vecConsts+512(SB)
#define P9 ·vecConsts+544(SB)
#define P8 ·vecConsts+576(SB)
#define P7 ·vecConsts+608(SB)
#define P6 ·vecConsts+640(SB)
#define P5 ·vecConsts+672(SB)
#define P4 ·vecConsts+704(SB)
#define P3 ·vecConsts+736(SB)
#define P2 ·vecConsts+768(SB)
#define P1 ·vecConsts+800(SB)
#define P0 ·vecConsts+832(SB)
#define NEGHALF ·vecConsts+864(SB)
#define INVSQ2PI ·vecConsts+896(SB)
#define TC1 ·vecConsts+928(SB)
#define NTC1 ·vecConsts+960(SB)
#define NTC3 ·vecConsts+992(SB)
#define TD3 ·vecConsts+1024(SB)
#define NEGINF ·vecConsts+1056(SB)
#define ZERO ·vecConsts+1088(SB)

C8(0, $0x3fb8aa3b)
C8(32, $0x4b400000)
C8(64, $0x3f318000)
C8(96, $0xb95e8083)
C8(128, $0x39500d01)
C8(160, $0x3ab60b61)
C8(192, $0x3c088889)
C8(224, $0x3d2aaaab)
C8(256, $0x3e2aaaab)
C8(288, $0x3f000000)
C8(320, $0x3f800000)
C8(352, $0x42b20000)
C8(384, $0xc2d00000)
C8(416, $0x0000007f)
C8(448, $0x7fffffff)
C8(480, $0x41680000)
C8(512, $0x3eb504f3)
C8(544, $0x3e2ef945)
C8(576, $0xbf527892)
C8(608, $0x3fbe87b0)
C8(640, $0xbf914e5d)
C8(672, $0x3e8ec7cc)
C8(704, $0xbe3ec24c)
C8(736, $0x3dc636c9)
C8(768, $0x3ebf88fb)
C8(800, $0x3f8000c7)
C8(832, $0xbfa1fc4e)
C8(864, $0xbf000000)
C8(896, $0x3ecc422a)
C8(928, $0x3fcc422a)
C8(960, $0xbfcc422a)
C8(992, $0xbd922279)
C8(1024, $0x3e5b33b6)
C8(1056, $0xff800000)
C8(1088, $0x00000000)
// ZERO is 64 bytes long: the 16-element loops read a nil bias at 0 and 32.
C8(1120, $0x00000000)
#define NEGCLIP ·vecConsts+1152(SB)
C8(1152, $0xc1680000)
#define TCLIP ·vecConsts+1184(SB)
C8(1184, $0x41a00000)
#define NTCLIP ·vecConsts+1216(SB)
C8(1216, $0xc1a00000)
GLOBL ·vecConsts(SB), RODATA|NOPTR, $1248

// vecMask: 8 all-ones lanes then 8 zero lanes. The 32 bytes at
// vecMask+32-4n have exactly the first n (0..8) lanes set: the mask for a
// tail of n elements (VMASKMOVPS loads zeros in the other lanes and stores
// nothing there).
DATA ·vecMask+0(SB)/8, $-1
DATA ·vecMask+8(SB)/8, $-1
DATA ·vecMask+16(SB)/8, $-1
DATA ·vecMask+24(SB)/8, $-1
DATA ·vecMask+32(SB)/8, $0
DATA ·vecMask+40(SB)/8, $0
DATA ·vecMask+48(SB)/8, $0
DATA ·vecMask+56(SB)/8, $0
GLOBL ·vecMask(SB), RODATA|NOPTR, $64

// Conventions for every kernel below:
//   - pointers in DI (output), SI, DX, R10..R13 (inputs), count in CX;
//   - a main loop over 8, 16 or 32 elements with plain loads and stores
//     (1-4 vectors; the transcendental kernels interleave two vectors
//     instruction by instruction with the ...X2 macros so that two long
//     dependency chains overlap), then the remainder with a mask:
//     TAILMASK sets Y15 to min(CX, 8) leading lanes, masked loads read
//     zeros elsewhere and masked stores write only the live lanes (masked
//     stores are slow on AMD cores, so they are kept out of main loops);
//   - an optional operand (GELU bias, LayerNorm weight/bias) that is nil is
//     replaced by a 32-byte constant (ZERO or ONE) with a pointer step of 0:
//     R8 holds the step for the main loop, R9 the step for the tail loop;
//   - VZEROUPPER before every RET.

// TAILMASK: Y15 = mask of min(CX, 8) lanes (clobbers AX, BX).
#define TAILMASK \
	MOVQ CX, BX; CMPQ BX, $8; JLE 2(PC); MOVQ $8, BX; \
	LEAQ ·vecMask+32(SB), AX; SHLQ $2, BX; SUBQ BX, AX; VMOVDQU (AX), Y15

// EXPPOLY(R, K, T): R = e^R · 2^K for |R| <= ~0.35 and K an int32 vector in
// [-252, 254]: Exp32's degree-7 Horner polynomial in T, then 2^K applied as
// 2^(K>>1) · 2^(K-(K>>1)), each a normal float built in the exponent bits,
// so a subnormal result is rounded once and K = 128 gives +Inf.
#define EXPPOLY(R, K, T) \
	VMOVUPS C7, T; \
	VFMADD213PS C6, R, T; \
	VFMADD213PS C5, R, T; \
	VFMADD213PS C4, R, T; \
	VFMADD213PS C3, R, T; \
	VFMADD213PS HALF, R, T; \
	VFMADD213PS ONE, R, T; \
	VFMADD213PS ONE, R, T; \
	VPSRAD $1, K, R; \
	VPSUBD R, K, K; \
	VPADDD I127, R, R; \
	VPSLLD $23, R, R; \
	VPADDD I127, K, K; \
	VPSLLD $23, K, K; \
	VMULPS R, T, T; \
	VMULPS K, T, R

// EXPPOLYX2 is EXPPOLY on two register sets, instruction by instruction
// interleaved (generated from EXPPOLY): the two dependency chains overlap.
#define EXPPOLYX2(R, K, T, R_2, K_2, T_2) \
	VMOVUPS C7, T; \
	VMOVUPS C7, T_2; \
	VFMADD213PS C6, R, T; \
	VFMADD213PS C6, R_2, T_2; \
	VFMADD213PS C5, R, T; \
	VFMADD213PS C5, R_2, T_2; \
	VFMADD213PS C4, R, T; \
	VFMADD213PS C4, R_2, T_2; \
	VFMADD213PS C3, R, T; \
	VFMADD213PS C3, R_2, T_2; \
	VFMADD213PS HALF, R, T; \
	VFMADD213PS HALF, R_2, T_2; \
	VFMADD213PS ONE, R, T; \
	VFMADD213PS ONE, R_2, T_2; \
	VFMADD213PS ONE, R, T; \
	VFMADD213PS ONE, R_2, T_2; \
	VPSRAD $1, K, R; \
	VPSRAD $1, K_2, R_2; \
	VPSUBD R, K, K; \
	VPSUBD R_2, K_2, K_2; \
	VPADDD I127, R, R; \
	VPADDD I127, R_2, R_2; \
	VPSLLD $23, R, R; \
	VPSLLD $23, R_2, R_2; \
	VPADDD I127, K, K; \
	VPADDD I127, K_2, K_2; \
	VPSLLD $23, K, K; \
	VPSLLD $23, K_2, K_2; \
	VMULPS R, T, T; \
	VMULPS R_2, T_2, T_2; \
	VMULPS K, T, R; \
	VMULPS K_2, T_2, R_2

// EXPV(X, T1, T2): X = e^X. Clamp X to [-104, 89] (NaN kept: X is the
// second source of VMAXPS/VMINPS, which is returned on NaN), kf = round(X·log2e)
// by adding 1.5·2^23 (T1 keeps the integer in its low bits), Cody-Waite
// r = X - kf·ln2hi - kf·ln2lo (kf·ln2hi exact), then EXPPOLY.
#define EXPV(X, T1, T2) \
	VMOVUPS EXPLO, T1; \
	VMAXPS X, T1, X; \
	VMOVUPS EXPHI, T1; \
	VMINPS X, T1, X; \
	VMOVUPS MAGIC, T1; \
	VFMADD231PS LOG2E, X, T1; \
	VSUBPS MAGIC, T1, T2; \
	VFNMADD231PS LN2HI, T2, X; \
	VFNMADD231PS LN2LO, T2, X; \
	VPSUBD MAGIC, T1, T1; \
	EXPPOLY(X, T1, T2)

// EXPVX2 is EXPV on two register sets, instruction by instruction
// interleaved (generated from EXPV): the two dependency chains overlap.
#define EXPVX2(X, T1, T2, X_2, T1_2, T2_2) \
	VMOVUPS EXPLO, T1; \
	VMOVUPS EXPLO, T1_2; \
	VMAXPS X, T1, X; \
	VMAXPS X_2, T1_2, X_2; \
	VMOVUPS EXPHI, T1; \
	VMOVUPS EXPHI, T1_2; \
	VMINPS X, T1, X; \
	VMINPS X_2, T1_2, X_2; \
	VMOVUPS MAGIC, T1; \
	VMOVUPS MAGIC, T1_2; \
	VFMADD231PS LOG2E, X, T1; \
	VFMADD231PS LOG2E, X_2, T1_2; \
	VSUBPS MAGIC, T1, T2; \
	VSUBPS MAGIC, T1_2, T2_2; \
	VFNMADD231PS LN2HI, T2, X; \
	VFNMADD231PS LN2HI, T2_2, X_2; \
	VFNMADD231PS LN2LO, T2, X; \
	VFNMADD231PS LN2LO, T2_2, X_2; \
	VPSUBD MAGIC, T1, T1; \
	VPSUBD MAGIC, T1_2, T1_2; \
	EXPPOLYX2(X, T1, T2, X_2, T1_2, T2_2)



// func expAVX2(dst, src *float32, n int)
// DI = dst, SI = src, CX = n; Y0 and Y3 hold the two vectors of the main
// loop (temps Y1, Y2, Y4, Y5).
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
exp16:
	CMPQ CX, $16
	JLT  exptail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y3
	EXPVX2(Y0, Y1, Y2, Y3, Y4, Y5)
	VMOVUPS Y0, (DI)
	VMOVUPS Y3, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  exp16
exptail:
	TESTQ CX, CX
	JLE   expdone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	EXPV(Y0, Y1, Y2)
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  exptail
expdone:
	VZEROUPPER
	RET

// OPTSETUP(reg, C, S16, S8, lbl): if the optional operand pointer in reg is nil, point it at
// the constant C (ZERO or ONE) with steps 0; steps are in S16/S8.
#define OPTSETUP(reg, C, S16, S8, lbl) \
	MOVQ $64, S16; MOVQ $32, S8; TESTQ reg, reg; JNZ lbl; \
	LEAQ C, reg; XORQ S16, S16; XORQ S8, S8; \
lbl:

// GELU8(U, A, T, P, H, L, K): U = u·Φ(u), u in U.
//   A = min(|u|, 14.5); T = 1/(1 + A/(2√2)); P = P(T) (erfc fit);
//   H + L = A² exactly (L = fma(A, A, -H));
//   kf from arg = fma(H, -0.5, P); r = (-H/2 - kf·ln2hi) [exact]
//   + fma(L, -0.5, P) - kf·ln2lo; E = EXPPOLY(r, kf);
//   q = (0.5·T)·E = Φ(-A); Φ(u) = u < 0 (sign bit) ? q : 1 - q.
#define GELU8(U, A, T, P, H, L, K) \
	VANDPS ABSMASK, U, A; \
	VMOVUPS CLIP, T; \
	VMINPS A, T, A; \
	VMOVUPS ONE, T; \
	VFMADD231PS TQ, A, T; \
	VMOVUPS ONE, P; \
	VDIVPS T, P, T; \
	VMOVUPS P9, P; \
	VFMADD213PS P8, T, P; \
	VFMADD213PS P7, T, P; \
	VFMADD213PS P6, T, P; \
	VFMADD213PS P5, T, P; \
	VFMADD213PS P4, T, P; \
	VFMADD213PS P3, T, P; \
	VFMADD213PS P2, T, P; \
	VFMADD213PS P1, T, P; \
	VFMADD213PS P0, T, P; \
	VMULPS A, A, H; \
	VMOVAPS H, L; \
	VFMSUB231PS A, A, L; \
	VMOVAPS P, A; \
	VFMADD231PS NEGHALF, H, A; \
	VMOVUPS MAGIC, K; \
	VFMADD231PS LOG2E, A, K; \
	VSUBPS MAGIC, K, A; \
	VMULPS NEGHALF, H, H; \
	VFNMADD231PS LN2HI, A, H; \
	VFMADD231PS NEGHALF, L, P; \
	VADDPS P, H, H; \
	VFNMADD231PS LN2LO, A, H; \
	VPSUBD MAGIC, K, K; \
	EXPPOLY(H, K, A); \
	VMULPS HALF, T, T; \
	VMULPS H, T, T; \
	VMOVUPS ONE, A; \
	VSUBPS T, A, A; \
	VBLENDVPS U, T, A, A; \
	VMULPS A, U, U

// GELU8X2 is GELU8 on two register sets, instruction by instruction
// interleaved (generated from GELU8): the two dependency chains overlap.
#define GELU8X2(U, A, T, P, H, L, K, U_2, A_2, T_2, P_2, H_2, L_2, K_2) \
	VANDPS ABSMASK, U, A; \
	VANDPS ABSMASK, U_2, A_2; \
	VMOVUPS CLIP, T; \
	VMOVUPS CLIP, T_2; \
	VMINPS A, T, A; \
	VMINPS A_2, T_2, A_2; \
	VMOVUPS ONE, T; \
	VMOVUPS ONE, T_2; \
	VFMADD231PS TQ, A, T; \
	VFMADD231PS TQ, A_2, T_2; \
	VMOVUPS ONE, P; \
	VMOVUPS ONE, P_2; \
	VDIVPS T, P, T; \
	VDIVPS T_2, P_2, T_2; \
	VMOVUPS P9, P; \
	VMOVUPS P9, P_2; \
	VFMADD213PS P8, T, P; \
	VFMADD213PS P8, T_2, P_2; \
	VFMADD213PS P7, T, P; \
	VFMADD213PS P7, T_2, P_2; \
	VFMADD213PS P6, T, P; \
	VFMADD213PS P6, T_2, P_2; \
	VFMADD213PS P5, T, P; \
	VFMADD213PS P5, T_2, P_2; \
	VFMADD213PS P4, T, P; \
	VFMADD213PS P4, T_2, P_2; \
	VFMADD213PS P3, T, P; \
	VFMADD213PS P3, T_2, P_2; \
	VFMADD213PS P2, T, P; \
	VFMADD213PS P2, T_2, P_2; \
	VFMADD213PS P1, T, P; \
	VFMADD213PS P1, T_2, P_2; \
	VFMADD213PS P0, T, P; \
	VFMADD213PS P0, T_2, P_2; \
	VMULPS A, A, H; \
	VMULPS A_2, A_2, H_2; \
	VMOVAPS H, L; \
	VMOVAPS H_2, L_2; \
	VFMSUB231PS A, A, L; \
	VFMSUB231PS A_2, A_2, L_2; \
	VMOVAPS P, A; \
	VMOVAPS P_2, A_2; \
	VFMADD231PS NEGHALF, H, A; \
	VFMADD231PS NEGHALF, H_2, A_2; \
	VMOVUPS MAGIC, K; \
	VMOVUPS MAGIC, K_2; \
	VFMADD231PS LOG2E, A, K; \
	VFMADD231PS LOG2E, A_2, K_2; \
	VSUBPS MAGIC, K, A; \
	VSUBPS MAGIC, K_2, A_2; \
	VMULPS NEGHALF, H, H; \
	VMULPS NEGHALF, H_2, H_2; \
	VFNMADD231PS LN2HI, A, H; \
	VFNMADD231PS LN2HI, A_2, H_2; \
	VFMADD231PS NEGHALF, L, P; \
	VFMADD231PS NEGHALF, L_2, P_2; \
	VADDPS P, H, H; \
	VADDPS P_2, H_2, H_2; \
	VFNMADD231PS LN2LO, A, H; \
	VFNMADD231PS LN2LO, A_2, H_2; \
	VPSUBD MAGIC, K, K; \
	VPSUBD MAGIC, K_2, K_2; \
	EXPPOLYX2(H, K, A, H_2, K_2, A_2); \
	VMULPS HALF, T, T; \
	VMULPS HALF, T_2, T_2; \
	VMULPS H, T, T; \
	VMULPS H_2, T_2, T_2; \
	VMOVUPS ONE, A; \
	VMOVUPS ONE, A_2; \
	VSUBPS T, A, A; \
	VSUBPS T_2, A_2, A_2; \
	VBLENDVPS U, T, A, A; \
	VBLENDVPS U_2, T_2, A_2, A_2; \
	VMULPS A, U, U; \
	VMULPS A_2, U_2, U_2

// func geluAVX2(dst, src, bias *float32, n int)
// DI = dst, SI = src, DX = bias (or ZERO, steps R8/R9), CX = n.
// Vectors: Y0 (temps Y1-Y6) and Y7 (temps Y8-Y13).
TEXT ·geluAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ n+24(FP), CX
	OPTSETUP(DX, ZERO, R8, R9, gelubias)
gelu16:
	CMPQ CX, $16
	JLT  gelutail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y7
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y7, Y7
	GELU8X2(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13)
	VMOVUPS Y0, (DI)
	VMOVUPS Y7, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ R8, DX
	SUBQ $16, CX
	JMP  gelu16
gelutail:
	TESTQ CX, CX
	JLE   geludone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DX), Y15, Y1
	VADDPS Y1, Y0, Y0
	GELU8(Y0, Y1, Y2, Y3, Y4, Y5, Y6)
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ R9, DX
	SUBQ $8, CX
	JMP  gelutail
geludone:
	VZEROUPPER
	RET

// func geluBackwardAVX2(dx, src, bias, gr *float32, n int)
// DI = dx, SI = src, DX = bias (or ZERO), R10 = g, CX = n. One vector per
// iteration (the out-of-order core overlaps iterations):
//   Y0 = u, Y1 = A, Y2 = T then q, Y3 = P, Y4 = H (then -H/2, then e^(-A²/2)),
//   Y5 = L, Y6 = K, Y7 = r; as GELU8 for q, then a second exponential of
//   -H/2 - L/2 for φ; dx = g·fma(u, e·(1/√(2π)), Φ(u)).
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-40
	MOVQ dx+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ gr+24(FP), R10
	MOVQ n+32(FP), CX
	OPTSETUP(DX, ZERO, R8, R9, gbbias)
gbloop:
	CMPQ CX, $8
	JLT  gblooptail
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VADDPS Y1, Y0, Y0
	VANDPS ABSMASK, Y0, Y1
	VMOVUPS CLIP, Y2
	VMINPS Y1, Y2, Y1
	VMOVUPS ONE, Y2
	VFMADD231PS TQ, Y1, Y2
	VMOVUPS ONE, Y3
	VDIVPS Y2, Y3, Y2
	VMOVUPS P9, Y3
	VFMADD213PS P8, Y2, Y3
	VFMADD213PS P7, Y2, Y3
	VFMADD213PS P6, Y2, Y3
	VFMADD213PS P5, Y2, Y3
	VFMADD213PS P4, Y2, Y3
	VFMADD213PS P3, Y2, Y3
	VFMADD213PS P2, Y2, Y3
	VFMADD213PS P1, Y2, Y3
	VFMADD213PS P0, Y2, Y3
	VMULPS Y1, Y1, Y4
	VMOVAPS Y4, Y5
	VFMSUB231PS Y1, Y1, Y5
	VMOVAPS Y3, Y1
	VFMADD231PS NEGHALF, Y4, Y1
	VMOVUPS MAGIC, Y6
	VFMADD231PS LOG2E, Y1, Y6
	VSUBPS MAGIC, Y6, Y1
	VMULPS NEGHALF, Y4, Y4
	VMOVAPS Y4, Y7
	VFNMADD231PS LN2HI, Y1, Y7
	VFMADD231PS NEGHALF, Y5, Y3
	VADDPS Y3, Y7, Y7
	VFNMADD231PS LN2LO, Y1, Y7
	VPSUBD MAGIC, Y6, Y6
	EXPPOLY(Y7, Y6, Y1)
	VMULPS HALF, Y2, Y2
	VMULPS Y7, Y2, Y2
	// second exponential: e^(-H/2 - L/2), Y4 = -H/2
	VMOVUPS MAGIC, Y6
	VFMADD231PS LOG2E, Y4, Y6
	VSUBPS MAGIC, Y6, Y1
	VFNMADD231PS LN2HI, Y1, Y4
	VFMADD231PS NEGHALF, Y5, Y4
	VFNMADD231PS LN2LO, Y1, Y4
	VPSUBD MAGIC, Y6, Y6
	EXPPOLY(Y4, Y6, Y1)
	// Φ(u) in Y1, then fma(uc, e·c, Φ)·g with uc = u clamped to ±14.5
	// (so that u = ±Inf gives 1 or 0 instead of Inf·0)
	VMOVUPS ONE, Y1
	VSUBPS Y2, Y1, Y1
	VBLENDVPS Y0, Y2, Y1, Y1
	VMOVUPS CLIP, Y2
	VMINPS Y0, Y2, Y0
	VMOVUPS NEGCLIP, Y2
	VMAXPS Y0, Y2, Y0
	VMULPS INVSQ2PI, Y4, Y4
	VFMADD231PS Y0, Y4, Y1
	VMOVUPS (R10), Y2
	VMULPS Y2, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R10
	ADDQ R9, DX
	SUBQ $8, CX
	JMP  gbloop
gblooptail:
	TESTQ CX, CX
	JLE   gbdone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DX), Y15, Y1
	VADDPS Y1, Y0, Y0
	VANDPS ABSMASK, Y0, Y1
	VMOVUPS CLIP, Y2
	VMINPS Y1, Y2, Y1
	VMOVUPS ONE, Y2
	VFMADD231PS TQ, Y1, Y2
	VMOVUPS ONE, Y3
	VDIVPS Y2, Y3, Y2
	VMOVUPS P9, Y3
	VFMADD213PS P8, Y2, Y3
	VFMADD213PS P7, Y2, Y3
	VFMADD213PS P6, Y2, Y3
	VFMADD213PS P5, Y2, Y3
	VFMADD213PS P4, Y2, Y3
	VFMADD213PS P3, Y2, Y3
	VFMADD213PS P2, Y2, Y3
	VFMADD213PS P1, Y2, Y3
	VFMADD213PS P0, Y2, Y3
	VMULPS Y1, Y1, Y4
	VMOVAPS Y4, Y5
	VFMSUB231PS Y1, Y1, Y5
	VMOVAPS Y3, Y1
	VFMADD231PS NEGHALF, Y4, Y1
	VMOVUPS MAGIC, Y6
	VFMADD231PS LOG2E, Y1, Y6
	VSUBPS MAGIC, Y6, Y1
	VMULPS NEGHALF, Y4, Y4
	VMOVAPS Y4, Y7
	VFNMADD231PS LN2HI, Y1, Y7
	VFMADD231PS NEGHALF, Y5, Y3
	VADDPS Y3, Y7, Y7
	VFNMADD231PS LN2LO, Y1, Y7
	VPSUBD MAGIC, Y6, Y6
	EXPPOLY(Y7, Y6, Y1)
	VMULPS HALF, Y2, Y2
	VMULPS Y7, Y2, Y2
	// second exponential: e^(-H/2 - L/2), Y4 = -H/2
	VMOVUPS MAGIC, Y6
	VFMADD231PS LOG2E, Y4, Y6
	VSUBPS MAGIC, Y6, Y1
	VFNMADD231PS LN2HI, Y1, Y4
	VFMADD231PS NEGHALF, Y5, Y4
	VFNMADD231PS LN2LO, Y1, Y4
	VPSUBD MAGIC, Y6, Y6
	EXPPOLY(Y4, Y6, Y1)
	// Φ(u) in Y1, then fma(uc, e·c, Φ)·g with uc = u clamped to ±14.5
	// (so that u = ±Inf gives 1 or 0 instead of Inf·0)
	VMOVUPS ONE, Y1
	VSUBPS Y2, Y1, Y1
	VBLENDVPS Y0, Y2, Y1, Y1
	VMOVUPS CLIP, Y2
	VMINPS Y0, Y2, Y0
	VMOVUPS NEGCLIP, Y2
	VMAXPS Y0, Y2, Y0
	VMULPS INVSQ2PI, Y4, Y4
	VFMADD231PS Y0, Y4, Y1
	VMASKMOVPS (R10), Y15, Y2
	VMULPS Y2, Y1, Y1
	VMASKMOVPS Y1, Y15, (DI)
gbdone:
	VZEROUPPER
	RET

// GELUT8(U, W, T, X): U = u·s with s = (1+tanh y)/2 in the symmetric form
// E = e^(-2|y|) (never overflows), s = (u < 0 ? E : 1)/(1 + E); here
// -2|y| = (-C1 - C3·u²)·|u| with C1 = 2√(2/π), C3 = C1·0.044715.
#define GELUT8(U, W, T, X) \
	VMULPS U, U, W; \
	VMOVUPS NTC1, T; \
	VFMADD231PS NTC3, W, T; \
	VANDPS ABSMASK, U, X; \
	VMULPS X, T, X; \
	EXPV(X, T, W); \
	VADDPS ONE, X, T; \
	VMOVUPS ONE, W; \
	VBLENDVPS U, X, W, W; \
	VDIVPS T, W, W; \
	VMULPS W, U, U

// GELUT8X2 is GELUT8 on two register sets, instruction by instruction
// interleaved (generated from GELUT8): the two dependency chains overlap.
#define GELUT8X2(U, W, T, X, U_2, W_2, T_2, X_2) \
	VMULPS U, U, W; \
	VMULPS U_2, U_2, W_2; \
	VMOVUPS NTC1, T; \
	VMOVUPS NTC1, T_2; \
	VFMADD231PS NTC3, W, T; \
	VFMADD231PS NTC3, W_2, T_2; \
	VANDPS ABSMASK, U, X; \
	VANDPS ABSMASK, U_2, X_2; \
	VMULPS X, T, X; \
	VMULPS X_2, T_2, X_2; \
	EXPVX2(X, T, W, X_2, T_2, W_2); \
	VADDPS ONE, X, T; \
	VADDPS ONE, X_2, T_2; \
	VMOVUPS ONE, W; \
	VMOVUPS ONE, W_2; \
	VBLENDVPS U, X, W, W; \
	VBLENDVPS U_2, X_2, W_2, W_2; \
	VDIVPS T, W, W; \
	VDIVPS T_2, W_2, W_2; \
	VMULPS W, U, U; \
	VMULPS W_2, U_2, U_2

// func geluTanhAVX2(dst, src, bias *float32, n int)
// DI = dst, SI = src, DX = bias (or ZERO), CX = n; vectors Y0 (temps
// Y1-Y3) and Y4 (temps Y5-Y7).
TEXT ·geluTanhAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ n+24(FP), CX
	OPTSETUP(DX, ZERO, R8, R9, gtbias)
gt16:
	CMPQ CX, $16
	JLT  gttail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y4, Y4
	GELUT8X2(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ R8, DX
	SUBQ $16, CX
	JMP  gt16
gttail:
	TESTQ CX, CX
	JLE   gtdone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DX), Y15, Y1
	VADDPS Y1, Y0, Y0
	GELUT8(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ R9, DX
	SUBQ $8, CX
	JMP  gttail
gtdone:
	VZEROUPPER
	RET

// GELUTB8(U, W, T, X, K, V): U = d/du gelu_tanh(u) (g not applied).
//   u is first clamped to [-20, 20] (NaN kept), where the derivative is
//   exactly 0 or 1 in float32, so that huge |u| cannot make Inf·0;
//   W = u²; X = E = e^(-2|y|) as in GELUT8; K = u·2y' = u·(C1 + 3·C3·u²);
//   T = 1/(1+E); V = s = (u < 0 ? E : 1)·T; X = 1-s = (u < 0 ? 1 : E)·T;
//   U = s·fma(K, 1-s, 1).
#define GELUTB8(U, W, T, X, K, V) \
	VMOVUPS TCLIP, T; \
	VMINPS U, T, U; \
	VMOVUPS NTCLIP, T; \
	VMAXPS U, T, U; \
	VMULPS U, U, W; \
	VMOVUPS NTC1, T; \
	VFMADD231PS NTC3, W, T; \
	VANDPS ABSMASK, U, X; \
	VMULPS X, T, X; \
	EXPV(X, T, K); \
	VMOVUPS TC1, K; \
	VFMADD231PS TD3, W, K; \
	VMULPS U, K, K; \
	VADDPS ONE, X, T; \
	VMOVUPS ONE, W; \
	VDIVPS T, W, T; \
	VBLENDVPS U, X, W, V; \
	VBLENDVPS U, W, X, X; \
	VMULPS T, V, V; \
	VMULPS T, X, X; \
	VFMADD213PS ONE, X, K; \
	VMULPS V, K, U

// GELUTB8X2 is GELUTB8 on two register sets, instruction by instruction
// interleaved (generated from GELUTB8): the two dependency chains overlap.
#define GELUTB8X2(U, W, T, X, K, V, U_2, W_2, T_2, X_2, K_2, V_2) \
	VMOVUPS TCLIP, T; \
	VMOVUPS TCLIP, T_2; \
	VMINPS U, T, U; \
	VMINPS U_2, T_2, U_2; \
	VMOVUPS NTCLIP, T; \
	VMOVUPS NTCLIP, T_2; \
	VMAXPS U, T, U; \
	VMAXPS U_2, T_2, U_2; \
	VMULPS U, U, W; \
	VMULPS U_2, U_2, W_2; \
	VMOVUPS NTC1, T; \
	VMOVUPS NTC1, T_2; \
	VFMADD231PS NTC3, W, T; \
	VFMADD231PS NTC3, W_2, T_2; \
	VANDPS ABSMASK, U, X; \
	VANDPS ABSMASK, U_2, X_2; \
	VMULPS X, T, X; \
	VMULPS X_2, T_2, X_2; \
	EXPVX2(X, T, K, X_2, T_2, K_2); \
	VMOVUPS TC1, K; \
	VMOVUPS TC1, K_2; \
	VFMADD231PS TD3, W, K; \
	VFMADD231PS TD3, W_2, K_2; \
	VMULPS U, K, K; \
	VMULPS U_2, K_2, K_2; \
	VADDPS ONE, X, T; \
	VADDPS ONE, X_2, T_2; \
	VMOVUPS ONE, W; \
	VMOVUPS ONE, W_2; \
	VDIVPS T, W, T; \
	VDIVPS T_2, W_2, T_2; \
	VBLENDVPS U, X, W, V; \
	VBLENDVPS U_2, X_2, W_2, V_2; \
	VBLENDVPS U, W, X, X; \
	VBLENDVPS U_2, W_2, X_2, X_2; \
	VMULPS T, V, V; \
	VMULPS T_2, V_2, V_2; \
	VMULPS T, X, X; \
	VMULPS T_2, X_2, X_2; \
	VFMADD213PS ONE, X, K; \
	VFMADD213PS ONE, X_2, K_2; \
	VMULPS V, K, U; \
	VMULPS V_2, K_2, U_2

// func geluTanhBackwardAVX2(dx, src, bias, gr *float32, n int)
// DI = dx, SI = src, DX = bias (or ZERO), R10 = g, CX = n; vectors Y0
// (temps Y1-Y4, Y10) and Y5 (temps Y6-Y9, Y11).
TEXT ·geluTanhBackwardAVX2(SB), NOSPLIT, $0-40
	MOVQ dx+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ gr+24(FP), R10
	MOVQ n+32(FP), CX
	OPTSETUP(DX, ZERO, R8, R9, gtbbias)
gtb16:
	CMPQ CX, $16
	JLT  gtbtail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y5, Y5
	GELUTB8X2(Y0, Y1, Y2, Y3, Y4, Y10, Y5, Y6, Y7, Y8, Y9, Y11)
	VMULPS (R10), Y0, Y0
	VMULPS 32(R10), Y5, Y5
	VMOVUPS Y0, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R10
	ADDQ R8, DX
	SUBQ $16, CX
	JMP  gtb16
gtbtail:
	TESTQ CX, CX
	JLE   gtbdone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (DX), Y15, Y1
	VADDPS Y1, Y0, Y0
	GELUTB8(Y0, Y1, Y2, Y3, Y4, Y10)
	VMASKMOVPS (R10), Y15, Y1
	VMULPS Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R10
	ADDQ R9, DX
	SUBQ $8, CX
	JMP  gtbtail
gtbdone:
	VZEROUPPER
	RET

// HSUMPD(Y, X, T): X[0] = sum of the 4 float64 lanes of Y (X is Y's low half).
#define HSUMPD(Y, X, T) \
	VEXTRACTF128 $1, Y, T; \
	VADDPD T, X, X; \
	VPERMILPD $1, X, T; \
	VADDSD T, X, X

// ACC64(X, XL, T, A0, A1): add the 8 floats of X (XL its low half) as
// float64 into A0 (low 4) and A1 (high 4); T is a temp (Y register).
#define ACC64(X, XL, T, TL, A0, A1) \
	VCVTPS2PD XL, T; \
	VADDPD T, A0, A0; \
	VEXTRACTF128 $1, X, TL; \
	VCVTPS2PD TL, T; \
	VADDPD T, A1, A1

// func maxAVX2(x *float32, n int) float32
// SI = x, CX = n. Y0-Y3: running maxima (start at -Inf), Y4-Y7: loads,
// Y8: OR of the unordered (NaN) compares; Y14 = -Inf for the masked tail.
// The result is NaN if Y8 has any lane set.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS NEGINF, Y0
	VMOVUPS Y0, Y1
	VMOVUPS Y0, Y2
	VMOVUPS Y0, Y3
	VMOVUPS Y0, Y14
	VXORPS Y8, Y8, Y8
max32:
	CMPQ CX, $32
	JLT  maxtail
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VMAXPS Y4, Y0, Y0
	VMAXPS Y5, Y1, Y1
	VMAXPS Y6, Y2, Y2
	VMAXPS Y7, Y3, Y3
	VCMPPS $3, Y4, Y4, Y4
	VCMPPS $3, Y5, Y5, Y5
	VCMPPS $3, Y6, Y6, Y6
	VCMPPS $3, Y7, Y7, Y7
	VORPS Y4, Y5, Y5
	VORPS Y6, Y7, Y7
	VORPS Y5, Y8, Y8
	VORPS Y7, Y8, Y8
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  max32
maxtail:
	TESTQ CX, CX
	JLE   maxreduce
	TAILMASK
	VMASKMOVPS (SI), Y15, Y4
	VBLENDVPS Y15, Y4, Y14, Y4
	VMAXPS Y4, Y0, Y0
	VCMPPS $3, Y4, Y4, Y4
	VORPS Y4, Y8, Y8
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  maxtail
maxreduce:
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VMAXPS X1, X0, X0
	VMOVSHDUP X0, X1
	VMAXSS X1, X0, X0
	VMOVMSKPS Y8, AX
	TESTL AX, AX
	JZ    maxret
	MOVL $0x7fc00000, AX
	MOVQ AX, X0
maxret:
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func expSubSumAVX2(dst, src *float32, n int, m float32) float64
// DI = dst (0: do not store), SI = src, CX = n, Y14 = m broadcast.
// Vectors Y0 (temps Y1, Y2) and Y3 (temps Y4, Y5): x - m, EXPV; the sums
// go into float64 accumulators Y8-Y11 (Y6, Y7 conversion temps). Masked-off
// tail lanes are zeroed before summing.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y14
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
ess16:
	CMPQ CX, $16
	JLT  esstail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y3
	VSUBPS Y14, Y0, Y0
	VSUBPS Y14, Y3, Y3
	EXPVX2(Y0, Y1, Y2, Y3, Y4, Y5)
	TESTQ DI, DI
	JZ    ess16acc
	VMOVUPS Y0, (DI)
	VMOVUPS Y3, 32(DI)
	ADDQ $64, DI
ess16acc:
	ACC64(Y0, X0, Y6, X6, Y8, Y9)
	ACC64(Y3, X3, Y7, X7, Y10, Y11)
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  ess16
esstail:
	TESTQ CX, CX
	JLE   essreduce
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VSUBPS Y14, Y0, Y0
	EXPV(Y0, Y1, Y2)
	VANDPS Y15, Y0, Y0
	TESTQ DI, DI
	JZ    esstailacc
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, DI
esstailacc:
	ACC64(Y0, X0, Y6, X6, Y8, Y9)
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  esstail
essreduce:
	VADDPD Y9, Y8, Y8
	VADDPD Y11, Y10, Y10
	VADDPD Y10, Y8, Y8
	HSUMPD(Y8, X8, X9)
	VMOVSD X8, ret+32(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, a float32)
// DI = x, CX = n, Y14 = a; Y0-Y3 the four vectors of the main loop.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS a+16(FP), Y14
sc32:
	CMPQ CX, $32
	JLT  sctail
	VMULPS (DI), Y14, Y0
	VMULPS 32(DI), Y14, Y1
	VMULPS 64(DI), Y14, Y2
	VMULPS 96(DI), Y14, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  sc32
sctail:
	TESTQ CX, CX
	JLE   scdone
	TAILMASK
	VMASKMOVPS (DI), Y15, Y0
	VMULPS Y14, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  sctail
scdone:
	VZEROUPPER
	RET

// func subMulAVX2(dx, y, gr *float32, n int, s float32)
// dx = y·(g - s). DI = dx, SI = y, DX = g, CX = n, Y14 = s.
TEXT ·subMulAVX2(SB), NOSPLIT, $0-36
	MOVQ dx+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ gr+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Y14
sm32:
	CMPQ CX, $32
	JLT  smtail
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	VSUBPS Y14, Y0, Y0
	VSUBPS Y14, Y1, Y1
	VSUBPS Y14, Y2, Y2
	VSUBPS Y14, Y3, Y3
	VMULPS (SI), Y0, Y0
	VMULPS 32(SI), Y1, Y1
	VMULPS 64(SI), Y2, Y2
	VMULPS 96(SI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	ADDQ $128, DX
	SUBQ $32, CX
	JMP  sm32
smtail:
	TESTQ CX, CX
	JLE   smdone
	TAILMASK
	VMASKMOVPS (DX), Y15, Y0
	VMASKMOVPS (SI), Y15, Y1
	VSUBPS Y14, Y0, Y0
	VMULPS Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  smtail
smdone:
	VZEROUPPER
	RET

// func subSubAVX2(dst, src *float32, n int, a, b float32)
// dst = (src - a) - b. DI = dst, SI = src, CX = n, Y13 = a, Y14 = b.
TEXT ·subSubAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y13
	VBROADCASTSS b+28(FP), Y14
ss32:
	CMPQ CX, $32
	JLT  sstail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VSUBPS Y13, Y0, Y0
	VSUBPS Y13, Y1, Y1
	VSUBPS Y13, Y2, Y2
	VSUBPS Y13, Y3, Y3
	VSUBPS Y14, Y0, Y0
	VSUBPS Y14, Y1, Y1
	VSUBPS Y14, Y2, Y2
	VSUBPS Y14, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  ss32
sstail:
	TESTQ CX, CX
	JLE   ssdone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VSUBPS Y13, Y0, Y0
	VSUBPS Y14, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  sstail
ssdone:
	VZEROUPPER
	RET

// func lsmBackAVX2(dx, out, gr *float32, n int, s float32)
// dx = g - e^out·s = fma(-e^out, s, g). DI = dx, SI = out, DX = g, CX = n,
// Y14 = s; vectors Y0 (temps Y1, Y2) and Y3 (temps Y4, Y5).
TEXT ·lsmBackAVX2(SB), NOSPLIT, $0-36
	MOVQ dx+0(FP), DI
	MOVQ out+8(FP), SI
	MOVQ gr+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Y14
lb16:
	CMPQ CX, $16
	JLT  lbtail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y3
	EXPVX2(Y0, Y1, Y2, Y3, Y4, Y5)
	VMOVUPS (DX), Y1
	VMOVUPS 32(DX), Y4
	VFNMADD231PS Y14, Y0, Y1
	VFNMADD231PS Y14, Y3, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, CX
	JMP  lb16
lbtail:
	TESTQ CX, CX
	JLE   lbdone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	EXPV(Y0, Y1, Y2)
	VMASKMOVPS (DX), Y15, Y1
	VFNMADD231PS Y14, Y0, Y1
	VMASKMOVPS Y1, Y15, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  lbtail
lbdone:
	VZEROUPPER
	RET

// func lnSumAVX2(x *float32, n int, hi, lo float32, mode int) float64
// mode 0: Σ x; mode 1: Σ ((x - hi) - lo)², both accumulated in float64.
// SI = x, CX = n, Y12 = hi, Y13 = lo; Y8-Y11 float64 accumulators, Y0/Y3
// the two vectors of a 16-element step, Y4-Y7 conversion temps. Masked-off
// tail lanes are zeroed after centring.
TEXT ·lnSumAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS hi+16(FP), Y12
	VBROADCASTSS lo+20(FP), Y13
	MOVQ mode+24(FP), DX
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	TESTQ DX, DX
	JNZ   lnv16
lns16:
	CMPQ CX, $16
	JLT  lnstail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y3
	ACC64(Y0, X0, Y4, X4, Y8, Y9)
	ACC64(Y3, X3, Y5, X5, Y10, Y11)
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  lns16
lnstail:
	TESTQ CX, CX
	JLE   lnreduce
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	ACC64(Y0, X0, Y4, X4, Y8, Y9)
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  lnstail
lnv16:
	CMPQ CX, $16
	JLT  lnvtail
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y3
	VSUBPS Y12, Y0, Y0
	VSUBPS Y12, Y3, Y3
	VSUBPS Y13, Y0, Y0
	VSUBPS Y13, Y3, Y3
	VCVTPS2PD X0, Y4
	VEXTRACTF128 $1, Y0, X5
	VCVTPS2PD X5, Y5
	VCVTPS2PD X3, Y6
	VEXTRACTF128 $1, Y3, X7
	VCVTPS2PD X7, Y7
	VFMADD231PD Y4, Y4, Y8
	VFMADD231PD Y5, Y5, Y9
	VFMADD231PD Y6, Y6, Y10
	VFMADD231PD Y7, Y7, Y11
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  lnv16
lnvtail:
	TESTQ CX, CX
	JLE   lnreduce
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VSUBPS Y12, Y0, Y0
	VSUBPS Y13, Y0, Y0
	VANDPS Y15, Y0, Y0
	VCVTPS2PD X0, Y4
	VEXTRACTF128 $1, Y0, X5
	VCVTPS2PD X5, Y5
	VFMADD231PD Y4, Y4, Y8
	VFMADD231PD Y5, Y5, Y9
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  lnvtail
lnreduce:
	VADDPD Y9, Y8, Y8
	VADDPD Y11, Y10, Y10
	VADDPD Y10, Y8, Y8
	HSUMPD(Y8, X8, X9)
	VMOVSD X8, ret+32(FP)
	VZEROUPPER
	RET

// func lnFwdAVX2(dst, src, w, b *float32, n int, hi, lo, rstd float32)
// dst = (((x - hi) - lo)·rstd)·w + b. DI = dst, SI = src, DX = w (or ONE,
// step R8), R10 = b (or ZERO, step R11), CX = n; Y12 = hi, Y13 = lo,
// Y14 = rstd; Y0/Y1 data.
TEXT ·lnFwdAVX2(SB), NOSPLIT, $0-52
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ b+24(FP), R10
	MOVQ n+32(FP), CX
	VBROADCASTSS hi+40(FP), Y12
	VBROADCASTSS lo+44(FP), Y13
	VBROADCASTSS rstd+48(FP), Y14
	OPTSETUP(DX, ONE, R12, R8, lnfw)
	OPTSETUP(R10, ZERO, R12, R11, lnfb)
lnfloop:
	CMPQ CX, $8
	JLT  lnflooptail
	VMOVUPS (SI), Y0
	VSUBPS Y12, Y0, Y0
	VSUBPS Y13, Y0, Y0
	VMULPS Y14, Y0, Y0
	VMOVUPS (DX), Y1
	VMULPS Y1, Y0, Y0
	VMOVUPS (R10), Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ R8, DX
	ADDQ R11, R10
	SUBQ $8, CX
	JMP  lnfloop
lnflooptail:
	TESTQ CX, CX
	JLE   lnfdone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VSUBPS Y12, Y0, Y0
	VSUBPS Y13, Y0, Y0
	VMULPS Y14, Y0, Y0
	VMASKMOVPS (DX), Y15, Y1
	VMULPS Y1, Y0, Y0
	VMASKMOVPS (R10), Y15, Y1
	VADDPS Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)
lnfdone:
	VZEROUPPER
	RET

// func lnBwdSumsAVX2(dw, db, src, w, gr *float32, n int, mean, rstd float32) (s1, s2 float64)
// xhat = (x - mean)·rstd, dxhat = g·w: s1 = Σ dxhat, s2 = Σ dxhat·xhat in
// float64 (Y8/Y9 and Y10/Y11: low/high halves), dw += g·xhat (fma),
// db += g, each skipped when its pointer is 0.
// R12 = dw, R13 = db, SI = src, DX = w (or ONE, step R8), R10 = g, CX = n;
// Y13 = mean, Y14 = rstd; Y0 = xhat, Y1 = g, Y2 = dxhat, Y3-Y7 temps.
TEXT ·lnBwdSumsAVX2(SB), NOSPLIT, $0-72
	MOVQ dw+0(FP), R12
	MOVQ db+8(FP), R13
	MOVQ src+16(FP), SI
	MOVQ w+24(FP), DX
	MOVQ gr+32(FP), R10
	MOVQ n+40(FP), CX
	VBROADCASTSS mean+48(FP), Y13
	VBROADCASTSS rstd+52(FP), Y14
	OPTSETUP(DX, ONE, R11, R8, lnbw)
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
lnbloop:
	CMPQ CX, $8
	JLT  lnblooptail
	VMOVUPS (SI), Y0
	VSUBPS Y13, Y0, Y0
	VMULPS Y14, Y0, Y0
	VMOVUPS (R10), Y1
	VMOVUPS (DX), Y2
	VMULPS Y1, Y2, Y2
	// s1 += dxhat, s2 += dxhat·xhat (float64)
	VCVTPS2PD X2, Y3
	VEXTRACTF128 $1, Y2, X4
	VCVTPS2PD X4, Y4
	VADDPD Y3, Y8, Y8
	VADDPD Y4, Y9, Y9
	VCVTPS2PD X0, Y5
	VEXTRACTF128 $1, Y0, X6
	VCVTPS2PD X6, Y6
	VFMADD231PD Y3, Y5, Y10
	VFMADD231PD Y4, Y6, Y11
	TESTQ R12, R12
	JZ    lnbnodw8
	VMOVUPS (R12), Y3
	VFMADD231PS Y1, Y0, Y3
	VMOVUPS Y3, (R12)
	ADDQ $32, R12
lnbnodw8:
	TESTQ R13, R13
	JZ    lnbnodb8
	VMOVUPS (R13), Y3
	VADDPS Y1, Y3, Y3
	VMOVUPS Y3, (R13)
	ADDQ $32, R13
lnbnodb8:
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ R8, DX
	SUBQ $8, CX
	JMP  lnbloop
lnblooptail:
	TESTQ CX, CX
	JLE   lnbdone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VSUBPS Y13, Y0, Y0
	VMULPS Y14, Y0, Y0
	VMASKMOVPS (R10), Y15, Y1
	VMASKMOVPS (DX), Y15, Y2
	VMULPS Y1, Y2, Y2
	// s1 += dxhat, s2 += dxhat·xhat (float64)
	VCVTPS2PD X2, Y3
	VEXTRACTF128 $1, Y2, X4
	VCVTPS2PD X4, Y4
	VADDPD Y3, Y8, Y8
	VADDPD Y4, Y9, Y9
	VCVTPS2PD X0, Y5
	VEXTRACTF128 $1, Y0, X6
	VCVTPS2PD X6, Y6
	VFMADD231PD Y3, Y5, Y10
	VFMADD231PD Y4, Y6, Y11
	TESTQ R12, R12
	JZ    lnbnodw
	VMASKMOVPS (R12), Y15, Y3
	VFMADD231PS Y1, Y0, Y3
	VMASKMOVPS Y3, Y15, (R12)
	ADDQ $32, R12
lnbnodw:
	TESTQ R13, R13
	JZ    lnbnodb
	VMASKMOVPS (R13), Y15, Y3
	VADDPS Y1, Y3, Y3
	VMASKMOVPS Y3, Y15, (R13)
	ADDQ $32, R13
lnbnodb:
lnbdone:
	HSUMPD(Y8, X8, X3)
	HSUMPD(Y9, X9, X3)
	VADDSD X9, X8, X8
	HSUMPD(Y10, X10, X3)
	HSUMPD(Y11, X11, X3)
	VADDSD X11, X10, X10
	VMOVSD X8, s1+56(FP)
	VMOVSD X10, s2+64(FP)
	VZEROUPPER
	RET

// func lnBwdDxAVX2(dx, src, w, gr *float32, n int, mean, rstd, a, b float32)
// dx = rstd·fma(-xhat, b, dxhat - a). DI = dx, SI = src, DX = w (or ONE,
// step R8), R10 = g, CX = n; Y11 = mean, Y12 = rstd, Y13 = a, Y14 = b.
TEXT ·lnBwdDxAVX2(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ gr+24(FP), R10
	MOVQ n+32(FP), CX
	VBROADCASTSS mean+40(FP), Y11
	VBROADCASTSS rstd+44(FP), Y12
	VBROADCASTSS a+48(FP), Y13
	VBROADCASTSS b+52(FP), Y14
	OPTSETUP(DX, ONE, R11, R8, lndw)
lndloop:
	CMPQ CX, $8
	JLT  lndlooptail
	VMOVUPS (SI), Y0
	VSUBPS Y11, Y0, Y0
	VMULPS Y12, Y0, Y0
	VMOVUPS (R10), Y1
	VMOVUPS (DX), Y2
	VMULPS Y1, Y2, Y2
	VSUBPS Y13, Y2, Y2
	VFNMADD231PS Y14, Y0, Y2
	VMULPS Y12, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ R8, DX
	SUBQ $8, CX
	JMP  lndloop
lndlooptail:
	TESTQ CX, CX
	JLE   lnddone
	TAILMASK
	VMASKMOVPS (SI), Y15, Y0
	VSUBPS Y11, Y0, Y0
	VMULPS Y12, Y0, Y0
	VMASKMOVPS (R10), Y15, Y1
	VMASKMOVPS (DX), Y15, Y2
	VMULPS Y1, Y2, Y2
	VSUBPS Y13, Y2, Y2
	VFNMADD231PS Y14, Y0, Y2
	VMULPS Y12, Y2, Y2
	VMASKMOVPS Y2, Y15, (DI)
lnddone:
	VZEROUPPER
	RET

// func adamWAVX2(p, gr, m, v *float32, n int, s *adamScalars)
// DI = p, SI = g, DX = m, R10 = v, CX = n. Scalars broadcast from s:
// Y7 decay, Y8 b1, Y9 1-b1, Y10 b2, Y11 1-b2, Y12 sqrt(bc2), Y13 eps,
// Y14 -lr/bc1. Per 8 lanes: Y0 = p, Y1 = g, Y2 = m, Y3 = v, Y4/Y5 temps:
//   p *= decay; m = fma(g, 1-b1, m·b1); v = v·b2 + ((1-b2)·g)·g;
//   d = sqrt(v)/sqrt(bc2) + eps; p += ((-lr/bc1)·m)/d.
TEXT ·adamWAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ v+24(FP), R10
	MOVQ n+32(FP), CX
	MOVQ s+40(FP), AX
	VBROADCASTSS 0(AX), Y7
	VBROADCASTSS 4(AX), Y8
	VBROADCASTSS 8(AX), Y9
	VBROADCASTSS 12(AX), Y10
	VBROADCASTSS 16(AX), Y11
	VBROADCASTSS 20(AX), Y12
	VBROADCASTSS 24(AX), Y13
	VBROADCASTSS 28(AX), Y14
adloop:
	CMPQ CX, $8
	JLT  adlooptail
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VMOVUPS (DX), Y2
	VMOVUPS (R10), Y3
	VMULPS Y7, Y0, Y0
	VMULPS Y8, Y2, Y2
	VFMADD231PS Y9, Y1, Y2
	VMULPS Y10, Y3, Y3
	VMULPS Y11, Y1, Y4
	VMULPS Y1, Y4, Y4
	VADDPS Y4, Y3, Y3
	VSQRTPS Y3, Y4
	VDIVPS Y12, Y4, Y4
	VADDPS Y13, Y4, Y4
	VMULPS Y14, Y2, Y5
	VDIVPS Y4, Y5, Y5
	VADDPS Y5, Y0, Y0
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, (R10)
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R10
	SUBQ $8, CX
	JMP  adloop
adlooptail:
	TESTQ CX, CX
	JLE   addone
	TAILMASK
	VMASKMOVPS (DI), Y15, Y0
	VMASKMOVPS (SI), Y15, Y1
	VMASKMOVPS (DX), Y15, Y2
	VMASKMOVPS (R10), Y15, Y3
	VMULPS Y7, Y0, Y0
	VMULPS Y8, Y2, Y2
	VFMADD231PS Y9, Y1, Y2
	VMULPS Y10, Y3, Y3
	VMULPS Y11, Y1, Y4
	VMULPS Y1, Y4, Y4
	VADDPS Y4, Y3, Y3
	VSQRTPS Y3, Y4
	VDIVPS Y12, Y4, Y4
	VADDPS Y13, Y4, Y4
	VMULPS Y14, Y2, Y5
	VDIVPS Y4, Y5, Y5
	VADDPS Y5, Y0, Y0
	VMASKMOVPS Y2, Y15, (DX)
	VMASKMOVPS Y3, Y15, (R10)
	VMASKMOVPS Y0, Y15, (DI)
addone:
	VZEROUPPER
	RET

// func axpyAVX2(y, x *float32, n int, a float32)
// y = fma(a, x, y). DI = y, SI = x, CX = n, Y14 = a; Y0-Y3 data.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
ax32:
	CMPQ CX, $32
	JLT  axtail
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VFMADD231PS (SI), Y14, Y0
	VFMADD231PS 32(SI), Y14, Y1
	VFMADD231PS 64(SI), Y14, Y2
	VFMADD231PS 96(SI), Y14, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  ax32
axtail:
	TESTQ CX, CX
	JLE   axdone
	TAILMASK
	VMASKMOVPS (DI), Y15, Y0
	VMASKMOVPS (SI), Y15, Y1
	VFMADD231PS Y1, Y14, Y0
	VMASKMOVPS Y0, Y15, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  axtail
axdone:
	VZEROUPPER
	RET

// BINOP(name, OP): func name(dst, a, b *float32, n int): dst = a OP b.
// DI = dst, SI = a, DX = b, CX = n; Y0-Y3 data.
#define BINOP(name, OP, l32, ltail, ldone) \
TEXT name(SB), NOSPLIT, $0-32; \
	MOVQ dst+0(FP), DI; \
	MOVQ a+8(FP), SI; \
	MOVQ b+16(FP), DX; \
	MOVQ n+24(FP), CX; \
l32: \
	CMPQ CX, $32; \
	JLT  ltail; \
	VMOVUPS (SI), Y0; \
	VMOVUPS 32(SI), Y1; \
	VMOVUPS 64(SI), Y2; \
	VMOVUPS 96(SI), Y3; \
	OP (DX), Y0, Y0; \
	OP 32(DX), Y1, Y1; \
	OP 64(DX), Y2, Y2; \
	OP 96(DX), Y3, Y3; \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y1, 32(DI); \
	VMOVUPS Y2, 64(DI); \
	VMOVUPS Y3, 96(DI); \
	ADDQ $128, DI; \
	ADDQ $128, SI; \
	ADDQ $128, DX; \
	SUBQ $32, CX; \
	JMP  l32; \
ltail: \
	TESTQ CX, CX; \
	JLE   ldone; \
	TAILMASK; \
	VMASKMOVPS (SI), Y15, Y0; \
	VMASKMOVPS (DX), Y15, Y1; \
	OP Y1, Y0, Y0; \
	VMASKMOVPS Y0, Y15, (DI); \
	ADDQ $32, DI; \
	ADDQ $32, SI; \
	ADDQ $32, DX; \
	SUBQ $8, CX; \
	JMP  ltail; \
ldone: \
	VZEROUPPER; \
	RET

// func addAVX2(dst, a, b *float32, n int)
BINOP(·addAVX2, VADDPS, add32, addtail, adddone)

// func mulAVX2(dst, a, b *float32, n int)
BINOP(·mulAVX2, VMULPS, mul32, multail, muldone)

// HSUM4X8: X0[0] = ((Y0+Y1)+(Y2+Y3)) summed 8 → 4 → 2 → 1 in the
// order of lanes32 in vec_generic.go.
#define HSUM4X8 \
	VADDPS Y1, Y0, Y0; \
	VADDPS Y3, Y2, Y2; \
	VADDPS Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VMOVHLPS X0, X0, X1; \
	VADDPS X1, X0, X0; \
	VMOVSHDUP X0, X1; \
	VADDSS X1, X0, X0

// func dotAVX2(a, b *float32, n int) float32
// SI = a, DX = b, CX = n; Y0-Y3 accumulators (32 lanes), Y4-Y7 loads.
// Leftover full vectors and the masked tail go into Y0.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DX
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
dot32:
	CMPQ CX, $32
	JLT  dottail
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DX), Y4, Y0
	VFMADD231PS 32(DX), Y5, Y1
	VFMADD231PS 64(DX), Y6, Y2
	VFMADD231PS 96(DX), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DX
	SUBQ $32, CX
	JMP  dot32
dottail:
	TESTQ CX, CX
	JLE   dotreduce
	TAILMASK
	VMASKMOVPS (SI), Y15, Y4
	VMASKMOVPS (DX), Y15, Y5
	VFMADD231PS Y5, Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  dottail
dotreduce:
	HSUM4X8
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func sumAVX2(x *float32, n int) float32
// SI = x, CX = n; Y0-Y3 accumulators, leftovers into Y0.
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
sum32:
	CMPQ CX, $32
	JLT  sumtail
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  sum32
sumtail:
	TESTQ CX, CX
	JLE   sumreduce
	TAILMASK
	VMASKMOVPS (SI), Y15, Y4
	VADDPS Y4, Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  sumtail
sumreduce:
	HSUM4X8
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET
