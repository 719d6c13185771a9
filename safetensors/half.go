package safetensors

import "math"

// Conversions between float32 and the 16- and 8-bit float formats. Widening
// is exact. Narrowing rounds to nearest, ties to even, and gives the same
// bits as PyTorch (c10::Half and c10::BFloat16): overflow goes to infinity,
// values below half the smallest subnormal go to signed zero, and every NaN
// becomes the canonical quiet NaN (0x7E00 keeping the sign for F16, 0x7FC0
// for BF16).

// F16ToF32 widens an IEEE 754 binary16 value.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0x1f: // inf, NaN (payload kept)
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: shift the leading one into the implicit position.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// F32ToF16 narrows to binary16, rounding to nearest even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half: the value in units of 2^-24 is full >> shift.
		shift := uint(14 - e)
		if shift > 24 {
			return sign // below half the smallest subnormal
		}
		full := mant | 0x800000
		return sign | uint16(roundShift(full, shift))
	}
	// Normal: drop 13 mantissa bits; a carry out of the mantissa correctly
	// bumps the exponent (and 0x7bff rounds up to infinity).
	return sign | uint16(roundShift(uint32(e)<<23|mant, 13))
}

// roundShift is v >> s rounded to nearest, ties to even (1 <= s <= 31).
func roundShift(v uint32, s uint) uint32 {
	q := v >> s
	r := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if r > half || (r == half && q&1 == 1) {
		q++
	}
	return q
}

// BF16ToF32 widens a bfloat16 value (the top half of a float32).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 narrows to bfloat16, rounding to nearest even.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// e4m3 maps each float8 E4M3FN byte to float32: bias 7, no infinities, and
// S.1111.111 is NaN.
var e4m3 = func() (t [256]float32) {
	for i := range t {
		sign := float32(1)
		if i&0x80 != 0 {
			sign = -1
		}
		exp := i >> 3 & 0xf
		mant := float32(i & 7)
		switch {
		case exp == 0xf && i&7 == 7:
			t[i] = float32(math.NaN())
		case exp == 0:
			t[i] = sign * mant / 8 * float32(math.Ldexp(1, -6))
		default:
			t[i] = sign * (1 + mant/8) * float32(math.Ldexp(1, exp-7))
		}
	}
	return t
}()
