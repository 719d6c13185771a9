package tokenizer

import "unicode/utf8"

// token is one model output: a vocabulary id and the byte span it covers in
// the piece that was tokenized.
type token struct {
	id         int32
	start, end int32
}

// model turns one pre-tokenized piece into tokens.
type model interface {
	tokenize(piece []byte, dst []token) []token
}

// wordPiece is BERT's WordPiece model: greedy longest-match-first from the
// left, with non-initial pieces looked up with the "##" prefix. If any
// position of a word cannot be matched the WHOLE word becomes one [UNK]
// (not just the unmatched rest), and words longer than maxChars characters
// are [UNK] without trying, exactly like BERT and HF.
type wordPiece struct {
	vocab    map[string]int32 // pieces that start a word
	cont     map[string]int32 // continuation pieces, keyed WITHOUT the prefix
	prefix   string
	unk      int32
	maxChars int
	maxLen   int // longest key in vocab or cont, in bytes: bounds the search
}

func newWordPiece(vocab map[string]int, unk, prefix string, maxChars int) (*wordPiece, error) {
	wp := &wordPiece{vocab: map[string]int32{}, cont: map[string]int32{}, prefix: prefix, maxChars: maxChars}
	for tok, id := range vocab {
		wp.vocab[tok] = int32(id)
		wp.maxLen = max(wp.maxLen, len(tok))
		if prefix != "" && len(tok) > len(prefix) && tok[:len(prefix)] == prefix {
			wp.cont[tok[len(prefix):]] = int32(id)
		}
	}
	id, ok := vocab[unk]
	if !ok {
		return nil, errorf("unknown token %q is not in the vocabulary", unk)
	}
	wp.unk = int32(id)
	return wp, nil
}

func (wp *wordPiece) tokenize(w []byte, dst []token) []token {
	if utf8.RuneCount(w) > wp.maxChars {
		return append(dst, token{wp.unk, 0, int32(len(w))})
	}
	n := len(dst)
	for start := 0; start < len(w); {
		table := wp.vocab
		if start > 0 {
			table = wp.cont
		}
		end := min(len(w), start+wp.maxLen)
		found := false
		for ; end > start; end-- {
			if end < len(w) && !utf8.RuneStart(w[end]) {
				continue // only cut at character boundaries
			}
			if id, ok := table[string(w[start:end])]; ok {
				dst = append(dst, token{id, int32(start), int32(end)})
				found = true
				break
			}
		}
		if !found {
			return append(dst[:n], token{wp.unk, 0, int32(len(w))})
		}
		start = end
	}
	return dst
}
