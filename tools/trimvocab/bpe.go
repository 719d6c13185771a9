package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/tokenizer"
)

// endOfText is GPT-2's only special token, kept as the last id.
const endOfText = "<|endoftext|>"

// bpeExtras are encoded along with the corpus so that their merges are kept
// even when the corpus lacks them: every printable ASCII character alone and
// after a space (GPT-2's "Ġa" forms), and the paragraph break "\n\n" that
// tools/pretrain's corpus builder ends each paragraph with.
func bpeExtras() []string {
	out := []string{"\n\n", "\n"}
	for c := byte('!'); c <= '~'; c++ {
		out = append(out, string(c), " "+string(c))
	}
	return out
}

// bpeTrim is the result of trimming a byte-level BPE.
type bpeTrim struct {
	Vocab  []string    // the trimmed vocabulary, id order: 256 bytes, merge results, <|endoftext|>
	Merges [][2]string // the merges kept, in their original rank order
	Tokens int         // tokens in the corpus
	Words  int         // distinct pre-tokenized words in the corpus
}

// readBPE reads a GPT-2 vocab.json and merges.txt.
func readBPE(dir string) (map[string]int, [][2]string, error) {
	b, err := os.ReadFile(dir + "/vocab.json")
	if err != nil {
		return nil, nil, err
	}
	var vocab map[string]int
	if err := json.Unmarshal(b, &vocab); err != nil {
		return nil, nil, fmt.Errorf("%s/vocab.json: %w", dir, err)
	}
	lines, err := readLines(dir + "/merges.txt")
	if err != nil {
		return nil, nil, err
	}
	var merges [][2]string
	for i, l := range lines {
		if l == "" || (i == 0 && strings.HasPrefix(l, "#version")) {
			continue
		}
		a, b, ok := strings.Cut(l, " ")
		if !ok {
			return nil, nil, fmt.Errorf("%s/merges.txt:%d: want two tokens, got %q", dir, i+1, l)
		}
		merges = append(merges, [2]string{a, b})
	}
	return vocab, merges, nil
}

// byteAlphabet is GPT-2's bytes_to_unicode: the 256 one-character tokens
// every byte-level BPE starts from, in byte order.
func byteAlphabet() []string {
	out := make([]string, 256)
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = string(rune(b))
		} else {
			out[b] = string(next)
			next++
		}
	}
	return out
}

// applyBPE runs GPT-2's merge loop on one pre-tokenized word (in the
// byte-level alphabet): merge every occurrence of the best-ranked adjacent
// pair, until no pair has a merge. It marks each merge it applies in used,
// the intermediate ones included, and returns the final symbols.
func applyBPE(word string, merges [][2]string, ranks map[[2]string]int, used map[int]bool) []string {
	var syms []string
	for _, r := range word {
		syms = append(syms, string(r))
	}
	for len(syms) > 1 {
		best := -1
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := ranks[[2]string{syms[i], syms[i+1]}]; ok && (best < 0 || r < best) {
				best = r
			}
		}
		if best < 0 {
			break
		}
		used[best] = true
		p := merges[best]
		out := syms[:0:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == p[0] && syms[i+1] == p[1] {
				out = append(out, p[0]+p[1])
				i++
			} else {
				out = append(out, syms[i])
			}
		}
		syms = out
	}
	return syms
}

// trimBPE encodes texts (and bpeExtras) with the full tokenizer, replays the
// merge loop on every distinct word to record each merge applied, checks the
// replay against the tokenizer's tokens, and keeps the 256 byte tokens, the
// merges used (in rank order), the tokens they make and <|endoftext|>. With
// every merge a word's full tokenization applied still present, and only
// merges removed, the best-ranked applicable merge at each step is the same,
// so the corpus tokenizes exactly as with the full BPE.
func trimBPE(vocab map[string]int, merges [][2]string, full *tokenizer.Tokenizer, texts []string) (*bpeTrim, error) {
	ranks := make(map[[2]string]int, len(merges))
	for i, m := range merges {
		if _, dup := ranks[m]; !dup {
			ranks[m] = i
		}
	}
	if _, ok := vocab[endOfText]; !ok {
		return nil, fmt.Errorf("full vocabulary has no %s", endOfText)
	}
	res := &bpeTrim{}
	words := map[string][]string{} // word -> the tokenizer's tokens for it
	all := append(append([]string(nil), texts...), bpeExtras()...)
	for ti, t := range all {
		enc, err := full.Encode(t, tokenizer.Options{})
		if err != nil {
			return nil, err
		}
		if ti < len(texts) {
			res.Tokens += enc.Len()
		}
		for i := 0; i < enc.Len(); {
			j := i + 1
			for j < enc.Len() && enc.WordIDs[j] == enc.WordIDs[i] {
				j++
			}
			if enc.Tokens[i] != endOfText {
				words[strings.Join(enc.Tokens[i:j], "")] = enc.Tokens[i:j]
			}
			i = j
		}
	}
	res.Words = len(words)
	used := map[int]bool{}
	for w, want := range words {
		if got := applyBPE(w, merges, ranks, used); !slices.Equal(got, want) {
			return nil, fmt.Errorf("merge replay of %q gives %q, the tokenizer %q", w, got, want)
		}
	}
	keep := map[string]bool{endOfText: true}
	for _, b := range byteAlphabet() {
		if _, ok := vocab[b]; !ok {
			return nil, fmt.Errorf("full vocabulary lacks the byte token %q", b)
		}
		keep[b] = true
	}
	for r := range merges {
		if used[r] {
			res.Merges = append(res.Merges, merges[r])
			m := merges[r][0] + merges[r][1]
			if _, ok := vocab[m]; !ok {
				return nil, fmt.Errorf("merge %q %q makes %q, which is not in the vocabulary", merges[r][0], merges[r][1], m)
			}
			keep[m] = true
		}
	}
	for t := range keep {
		if t != endOfText {
			res.Vocab = append(res.Vocab, t)
		}
	}
	slices.SortFunc(res.Vocab, func(a, b string) int { return vocab[a] - vocab[b] })
	res.Vocab = append(res.Vocab, endOfText)
	return res, nil
}
