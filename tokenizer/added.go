package tokenizer

import (
	"sort"
	"unicode/utf8"
)

// AddedToken is a token matched verbatim in the input before the model runs
// (HF's added_tokens): special tokens such as [CLS] or <|endoftext|>, and
// any tokens added to a vocabulary for fine-tuning.
type AddedToken struct {
	Content string
	ID      int
	// Special tokens are skipped by Decode(..., skipSpecial=true).
	Special bool
	// SingleWord only matches the token when it is not part of a longer word.
	SingleWord bool
	// LStrip and RStrip make the match swallow whitespace on that side.
	LStrip, RStrip bool
	// Normalized tokens are matched in the normalized text (so "[mask]"
	// would also match "[MASK]" under a lowercasing normalizer); the others
	// are matched in the raw text before normalization, which is why BERT's
	// "[CLS]" survives lowercasing.
	Normalized bool
}

// addedVocab finds added tokens in text: at the leftmost position where any
// token matches, the longest one wins (HF uses an Aho-Corasick automaton
// with leftmost-longest semantics; a first-byte filter is enough for the
// handful of tokens real tokenizers have).
type addedVocab struct {
	tokens []AddedToken
	raw    matcher // tokens matched before normalization
	norm   matcher // tokens matched after normalization
}

type matcher struct {
	first    [256]bool
	patterns []int // indices into tokens, longest content first
	contents []string
}

func (m *matcher) add(content string, idx int) {
	if content == "" {
		return
	}
	m.first[content[0]] = true
	m.patterns = append(m.patterns, idx)
	m.contents = append(m.contents, content)
}

func (m *matcher) sort() {
	ix := make([]int, len(m.patterns))
	for i := range ix {
		ix[i] = i
	}
	sort.SliceStable(ix, func(a, b int) bool { return len(m.contents[ix[a]]) > len(m.contents[ix[b]]) })
	p, c := make([]int, len(ix)), make([]string, len(ix))
	for i, j := range ix {
		p[i], c[i] = m.patterns[j], m.contents[j]
	}
	m.patterns, m.contents = p, c
}

// find returns the first match in s at or after from: the byte span to
// replace (widened by LStrip/RStrip) and the token index, or idx -1.
func (m *matcher) find(tokens []AddedToken, s string, from int) (start, end, idx int) {
	if len(m.patterns) == 0 {
		return 0, 0, -1
	}
	for i := from; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		for k, c := range m.contents {
			if len(s)-i < len(c) || s[i:i+len(c)] != c {
				continue
			}
			t := &tokens[m.patterns[k]]
			a, b := i, i+len(c)
			if t.SingleWord && (isWordBefore(s, a) || isWordAfter(s, b)) {
				continue
			}
			if t.LStrip {
				for a > from {
					r, n := utf8.DecodeLastRuneInString(s[from:a])
					if !isSpace(r) {
						break
					}
					a -= n
				}
			}
			if t.RStrip {
				for b < len(s) {
					r, n := utf8.DecodeRuneInString(s[b:])
					if !isSpace(r) {
						break
					}
					b += n
				}
			}
			return a, b, m.patterns[k]
		}
	}
	return 0, 0, -1
}

func isWordBefore(s string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isWordChar(r)
}

func isWordAfter(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isWordChar(r)
}
