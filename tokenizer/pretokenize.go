package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// span is a half-open byte range [start, end) of a normalized string.
type span struct{ start, end int }

// preTokenizer cuts a normalized string into the pieces ("words") that the
// model tokenizes independently. Pieces never overlap and never span an added
// token.
type preTokenizer interface {
	split(s []byte, dst []span) []span
}

// bertPreTokenizer is HF's BertPreTokenizer: split on whitespace (dropped)
// and isolate every punctuation character. BERT's punctuation is Unicode
// category P plus all ASCII non-alphanumeric symbols such as $ ^ ` ~ + < = >,
// which Unicode classes as symbols (S), not punctuation.
type bertPreTokenizer struct{}

func (bertPreTokenizer) split(s []byte, dst []span) []span {
	start := -1
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if r >= 0x80 {
			r, n = utf8.DecodeRune(s[i:])
		}
		switch {
		case isSpace(r):
			if start >= 0 {
				dst = append(dst, span{start, i})
				start = -1
			}
		case bertClass(r)&classPunct != 0:
			if start >= 0 {
				dst = append(dst, span{start, i})
				start = -1
			}
			dst = append(dst, span{i, i + n})
		default:
			if start < 0 {
				start = i
			}
		}
		i += n
	}
	if start >= 0 {
		dst = append(dst, span{start, len(s)})
	}
	return dst
}

// whitespacePreTokenizer is HF's Whitespace pre-tokenizer, the regex
// `\w+|[^\w\s]+`: runs of word characters and runs of other non-space
// characters.
type whitespacePreTokenizer struct{}

func isWordChar(r rune) bool {
	if r < 0x80 {
		return isLetter(r) || isNumber(r) || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.Is(unicode.Pc, r)
}

func (whitespacePreTokenizer) split(s []byte, dst []span) []span {
	start, kind := -1, 0 // kind 1: word run, 2: other run
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		k := 2
		if isSpace(r) {
			k = 0
		} else if isWordChar(r) {
			k = 1
		}
		if k != kind && start >= 0 {
			dst = append(dst, span{start, i})
			start = -1
		}
		if k != 0 && start < 0 {
			start = i
		}
		kind = k
		i += n
	}
	if start >= 0 {
		dst = append(dst, span{start, len(s)})
	}
	return dst
}

// byteLevelPreTokenizer is HF's ByteLevel pre-tokenizer. With useRegex it
// splits like GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// which is implemented below as a hand-written scanner because Go's regexp
// has no lookahead. The byte-to-character mapping itself lives in the BPE
// model (bpe.byteLevel), which starts from byte symbols directly.
// addPrefixSpace is applied by the pipeline (see Tokenizer.encodeSegment).
type byteLevelPreTokenizer struct {
	addPrefixSpace bool
	useRegex       bool
	trimOffsets    bool
}

func decodeAt(s []byte, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	if s[i] < 0x80 {
		return rune(s[i]), 1
	}
	return utf8.DecodeRune(s[i:])
}

// isOther is GPT-2's [^\s\p{L}\p{N}].
func isOther(r rune) bool { return r >= 0 && !isSpace(r) && !isLetter(r) && !isNumber(r) }

func (p byteLevelPreTokenizer) split(s []byte, dst []span) []span {
	if !p.useRegex {
		if len(s) > 0 {
			dst = append(dst, span{0, len(s)})
		}
		return dst
	}
	for i := 0; i < len(s); {
		end := gpt2Match(s, i)
		dst = append(dst, span{i, end})
		i = end
	}
	return dst
}

// gpt2Match returns the end of the GPT-2 pattern's match starting at i, trying
// the alternatives in order as a backtracking regex engine does.
func gpt2Match(s []byte, i int) int {
	c := s[i]
	// 's 't 're 've 'm 'll 'd (case-sensitive, as in GPT-2).
	if c == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	// ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space then a
	// run of one class.
	j := i
	if c == ' ' {
		j++
	}
	if r, n := decodeAt(s, j); n > 0 {
		var class func(rune) bool
		switch {
		case isLetter(r):
			class = isLetter
		case isNumber(r):
			class = isNumber
		case isOther(r):
			class = isOther
		}
		if class != nil {
			j += n
			for {
				r, n := decodeAt(s, j)
				if n == 0 || !class(r) {
					return j
				}
				j += n
			}
		}
	}
	// `\s+(?!\S)` then `\s+`: a whitespace run; when a non-space follows it,
	// give the run's last character back so that it can prefix the next word
	// (" ?\p{L}+"), unless the run is a single character.
	j, last := i, i
	for {
		r, n := decodeAt(s, j)
		if n == 0 || !isSpace(r) {
			break
		}
		last = j
		j += n
	}
	if j < len(s) && last > i {
		return last
	}
	return j
}
