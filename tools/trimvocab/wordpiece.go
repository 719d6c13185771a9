package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/tokenizer"
)

// bertSpecials are BERT's special tokens, given ids 0..4 in the trimmed
// vocabulary (bert-base-uncased has them at 0, 100, 101, 102, 103).
var bertSpecials = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// wordPieceTrim is the result of trimming a WordPiece vocabulary.
type wordPieceTrim struct {
	Vocab    []string       // the trimmed vocabulary, id order
	Counts   map[string]int // corpus frequency of every token the full vocabulary produced
	Tokens   int            // tokens in the corpus (no [CLS]/[SEP])
	Unknown  int            // [UNK] tokens in the corpus
	Alphabet int            // ASCII characters and ##characters kept whether seen or not
	Dropped  int            // tokens seen fewer than minCount times
}

// readLines reads a vocab.txt: one token per line, id = line number.
func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), " \t\r"))
	}
	return out, sc.Err()
}

// trimWordPiece counts the tokens the full WordPiece tokenizer full (built
// from vocab, its vocab.txt lines) gives texts and keeps, in vocab order
// after the five special tokens: every printable ASCII character and its
// "##" form that vocab has (so any ASCII word still tokenizes without
// [UNK]), and every token seen at least minCount times. Because WordPiece
// takes the longest vocabulary match at each position and the trimmed
// vocabulary keeps every match the full one made, words made of kept tokens
// tokenize exactly as before.
func trimWordPiece(vocab []string, full *tokenizer.Tokenizer, texts []string, minCount int) (*wordPieceTrim, error) {
	index := make(map[string]int, len(vocab))
	for i, t := range vocab {
		index[t] = i
	}
	for _, s := range bertSpecials {
		if _, ok := index[s]; !ok {
			return nil, fmt.Errorf("full vocabulary has no %s", s)
		}
	}
	res := &wordPieceTrim{Counts: map[string]int{}}
	for _, t := range texts {
		enc, err := full.Encode(t, tokenizer.Options{NoSpecialTokens: true})
		if err != nil {
			return nil, err
		}
		for _, tok := range enc.Tokens {
			res.Counts[tok]++
			if tok == "[UNK]" {
				res.Unknown++
			}
		}
		res.Tokens += enc.Len()
	}
	keep := map[string]bool{}
	for _, s := range bertSpecials {
		keep[s] = true
	}
	for c := byte('!'); c <= '~'; c++ {
		for _, s := range []string{string(c), "##" + string(c)} {
			if _, ok := index[s]; ok && !keep[s] {
				keep[s] = true
				res.Alphabet++
			}
		}
	}
	for tok, n := range res.Counts {
		if n >= minCount {
			keep[tok] = true
		} else if !keep[tok] {
			res.Dropped++
		}
	}
	var rest []string
	for tok := range keep {
		if !slices.Contains(bertSpecials, tok) {
			rest = append(rest, tok)
		}
	}
	slices.SortFunc(rest, func(a, b string) int { return index[a] - index[b] })
	res.Vocab = append(append([]string(nil), bertSpecials...), rest...)
	return res, nil
}
