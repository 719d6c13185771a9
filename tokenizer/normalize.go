package tokenizer

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalized is one segment of input text after normalization. Every byte of
// s remembers the byte span [start, end) of the original character it was
// produced from, which is how Hugging Face's NormalizedString keeps offsets
// pointing into the ORIGINAL text whatever the normalizer did (lowercasing
// 'İ' to two characters, dropping accents, inserting spaces around CJK).
// start and end are nil when s is a verbatim copy of the original (no
// normalizer); then the original offset of byte i is base+i.
type normalized struct {
	s          []byte
	start, end []int32
	base       int
}

// orig returns the original byte span covered by normalized bytes [a, b).
func (n *normalized) orig(a, b int) (int, int) {
	if n.start == nil {
		return n.base + a, n.base + b
	}
	return int(n.start[a]), int(n.end[b-1])
}

// normalizer rewrites one character at a time. Hugging Face's normalizers are
// character maps too (NormalizedString::transform), except NFC/NFKC, which
// compose across characters and which kiln therefore does not support.
type normalizer interface {
	// appendRune appends the normalized form of r (possibly nothing) to dst.
	appendRune(dst []rune, r rune) []rune
}

// normalize runs nz over text, which starts at byte base of the sequence, and
// stores the result in out (reusing its buffers).
func normalize(nz normalizer, text string, base int, out *normalized) {
	out.s, out.start, out.end, out.base = out.s[:0], out.start[:0], out.end[:0], base
	if nz == nil {
		out.s = append(out.s, text...)
		out.start, out.end = nil, nil
		return
	}
	var buf [8]rune
	for i, r := range text {
		size := utf8.RuneLen(r)
		if r == utf8.RuneError {
			// Invalid UTF-8 (impossible in Rust strings) decodes as U+FFFD, one byte long.
			_, size = utf8.DecodeRuneInString(text[i:])
		}
		lo, hi := int32(base+i), int32(base+i+size)
		for _, x := range nz.appendRune(buf[:0], r) {
			n := len(out.s)
			out.s = utf8.AppendRune(out.s, x)
			for range len(out.s) - n {
				out.start = append(out.start, lo)
				out.end = append(out.end, hi)
			}
		}
	}
}

// bertNormalizer is Hugging Face's BertNormalizer, i.e. the text cleaning of
// the original BERT BasicTokenizer. The steps run in HF's order: clean text,
// pad CJK ideographs with spaces, strip accents (NFD, then drop category Mn),
// lowercase. Stripping before lowercasing matters for 'İ' (U+0130), which
// decomposes to "I" + U+0307 and so ends as plain "i".
type bertNormalizer struct {
	clean, chinese, strip, lower bool
}

func (b *bertNormalizer) appendRune(dst []rune, r rune) []rune {
	if r < 0x80 && r > 0x20 && r != 0x7f {
		// Printable ASCII: no class can apply except lowercasing.
		if b.lower && r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(dst, r)
	}
	c := bertClass(r)
	if b.clean {
		if c&classDrop != 0 {
			return dst
		}
		if c&classSpace != 0 {
			return append(dst, ' ')
		}
	}
	if b.chinese && c&classChinese != 0 {
		return append(dst, ' ', r, ' ')
	}
	if r < 0x80 {
		return append(dst, r)
	}
	if b.strip {
		n := len(dst)
		dst = appendNFD(dst, r, true)
		if b.lower {
			for i := n; i < len(dst); i++ {
				dst = lowerAt(dst, i)
			}
		}
		return dst
	}
	if b.lower {
		return appendLower(dst, r)
	}
	return append(dst, r)
}

// appendNFD appends the canonical decomposition of r, without its nonspacing
// marks when strip is set. Decomposing one character at a time skips the
// canonical reordering of runs of combining marks that span several input
// characters; that only matters for unusual mark orders.
func appendNFD(dst []rune, r rune, strip bool) []rune {
	if r < 0xC0 {
		return append(dst, r) // nothing below U+00C0 decomposes
	}
	var in [4]byte
	var tmp [64]byte
	d := norm.NFD.Append(tmp[:0], in[:utf8.EncodeRune(in[:], r)]...)
	for len(d) > 0 {
		x, n := utf8.DecodeRune(d)
		d = d[n:]
		if strip && unicode.Is(unicode.Mn, x) {
			continue
		}
		dst = append(dst, x)
	}
	return dst
}

// appendLower appends Rust's char::to_lowercase of r. It differs from Go's
// unicode.ToLower only for U+0130, whose full lowercase mapping is "i̇".
func appendLower(dst []rune, r rune) []rune {
	if r == 0x130 {
		return append(dst, 'i', 0x307)
	}
	return append(dst, unicode.ToLower(r))
}

// lowerAt lowercases dst[i] in place (or expands it for U+0130).
func lowerAt(dst []rune, i int) []rune {
	if dst[i] != 0x130 {
		dst[i] = unicode.ToLower(dst[i])
		return dst
	}
	dst = append(dst, 0)
	copy(dst[i+2:], dst[i+1:])
	dst[i], dst[i+1] = 'i', 0x307
	return dst
}

// lowercaseNormalizer is HF's Lowercase normalizer.
type lowercaseNormalizer struct{}

func (lowercaseNormalizer) appendRune(dst []rune, r rune) []rune { return appendLower(dst, r) }

// nfdNormalizer is HF's NFD normalizer (per character, see appendNFD).
type nfdNormalizer struct{}

func (nfdNormalizer) appendRune(dst []rune, r rune) []rune { return appendNFD(dst, r, false) }

// stripAccentsNormalizer is HF's StripAccents: it removes nonspacing marks
// (category Mn) and is normally placed after NFD.
type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) appendRune(dst []rune, r rune) []rune {
	if r >= 0x300 && unicode.Is(unicode.Mn, r) {
		return dst
	}
	return append(dst, r)
}

// sequenceNormalizer applies its normalizers in order.
type sequenceNormalizer []normalizer

func (s sequenceNormalizer) appendRune(dst []rune, r rune) []rune {
	n := len(dst)
	dst = append(dst, r)
	var tmp [8]rune
	for _, nz := range s {
		cur := append(tmp[:0], dst[n:]...)
		dst = dst[:n]
		for _, x := range cur {
			dst = nz.appendRune(dst, x)
		}
	}
	return dst
}
