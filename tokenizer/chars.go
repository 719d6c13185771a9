package tokenizer

import (
	"sort"
	"unicode"
)

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

// Character class bits for bertClass. The classes come from the generated
// tables in bertchars_gen.go, which were probed from the Rust library, so that
// kiln drops, splits and isolates exactly the characters Hugging Face does.
const (
	classDrop    uint8 = 1 << iota // removed by clean_text
	classSpace                     // mapped to ' ' by clean_text; a split point
	classPunct                     // isolated by BertPreTokenizer
	classChinese                   // surrounded by spaces by handle_chinese_chars
)

// bmpClass caches the class bits of every code point below U+10000, so the
// common case is one array load; astral code points use binary search.
var bmpClass = func() *[0x10000]uint8 {
	var t [0x10000]uint8
	for _, c := range []struct {
		rs  []runeRange
		bit uint8
	}{{bertDropRanges, classDrop}, {bertSpaceRanges, classSpace}, {bertPunctRanges, classPunct}, {bertChineseRanges, classChinese}} {
		for _, r := range c.rs {
			for x := r.lo; x <= r.hi && x < 0x10000; x++ {
				t[x] |= c.bit
			}
		}
	}
	return &t
}()

func inRanges(rs []runeRange, r rune) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= r })
	return i < len(rs) && rs[i].lo <= r
}

// bertClass returns the class bits of r.
func bertClass(r rune) uint8 {
	if r < 0x10000 {
		return bmpClass[r]
	}
	var c uint8
	if inRanges(bertDropRanges, r) {
		c |= classDrop
	}
	if inRanges(bertSpaceRanges, r) {
		c |= classSpace
	}
	if inRanges(bertPunctRanges, r) {
		c |= classPunct
	}
	if inRanges(bertChineseRanges, r) {
		c |= classChinese
	}
	return c
}

// isSpace reports whether r is White_Space as Rust's char::is_whitespace
// defines it (the same set as Go's unicode.IsSpace).
func isSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

// isLetter and isNumber are \p{L} and \p{N} with an ASCII fast path.
func isLetter(r rune) bool {
	if r < 0x80 {
		return (r|0x20) >= 'a' && (r|0x20) <= 'z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}
