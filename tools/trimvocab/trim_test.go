package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/tokenizer"
)

const root = "../.."

func rootPaths(inputs []string) []source {
	var out []source
	for _, in := range inputs {
		s := parseSource(in)
		s.path = filepath.Join(root, s.path)
		out = append(out, s)
	}
	return out
}

func texts(t *testing.T, inputs []string) []string {
	t.Helper()
	txt, err := readTexts(rootPaths(inputs))
	if err != nil {
		t.Fatal(err)
	}
	return txt
}

// asciiWords are random printable-ASCII strings, spaces included.
func asciiWords(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	var out []string
	for range n {
		b := make([]byte, 1+r.IntN(40))
		for i := range b {
			b[i] = byte(' ' + r.IntN(95))
		}
		out = append(out, string(b))
	}
	return out
}

func sameTokens(t *testing.T, name string, full, trimmed *tokenizer.Tokenizer, texts []string) {
	t.Helper()
	bad := 0
	for _, s := range texts {
		a, err := full.Encode(s, tokenizer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := trimmed.Encode(s, tokenizer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Tokens, b.Tokens) || !slices.Equal(a.ByteOffsets, b.ByteOffsets) {
			if bad++; bad <= 3 {
				t.Errorf("%s: %q\nfull    %q\ntrimmed %q", name, s, a.Tokens, b.Tokens)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d texts tokenize differently", name, bad, len(texts))
	}
}

func TestWordPieceTrimKeepsTokenization(t *testing.T) {
	dir := filepath.Join(root, "tokenizer/testdata/bert-base-uncased-vocab")
	vocab, err := readLines(dir + "/vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	full, err := tokenizer.LoadWordPiece(dir+"/vocab.txt", true)
	if err != nil {
		t.Fatal(err)
	}
	corpus := texts(t, bertSources)
	res, err := trimWordPiece(vocab, full, corpus, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := writeWordPiece(out, res.Vocab, 128); err != nil {
		t.Fatal(err)
	}
	trimmed, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if trimmed.VocabSize() != len(res.Vocab) {
		t.Fatalf("VocabSize %d, want %d", trimmed.VocabSize(), len(res.Vocab))
	}
	for i, s := range bertSpecials {
		if id, ok := trimmed.TokenToID(s); !ok || id != i {
			t.Errorf("%s has id %d (%v), want %d", s, id, ok, i)
		}
	}
	if trimmed.PadID() != 0 {
		t.Errorf("PadID %d, want 0", trimmed.PadID())
	}
	// The whole corpus, with [CLS]/[SEP] and offsets, and a pair.
	sameTokens(t, "corpus", full, trimmed, corpus)
	enc, err := trimmed.EncodePair("Call me Ishmael.", "It is a truth universally acknowledged.", tokenizer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if enc.IDs[0] != 2 || enc.Tokens[len(enc.Tokens)-1] != "[SEP]" || enc.TypeIDs[len(enc.TypeIDs)-1] != 1 {
		t.Errorf("pair encoding %v %q %v", enc.IDs, enc.Tokens, enc.TypeIDs)
	}
	// Any ASCII text still tokenizes without [UNK].
	for _, s := range append(asciiWords(2000), "Zyzzogeton quixotically jumps; 12345 #hashtag @user ~tilde~") {
		e, err := trimmed.Encode(s, tokenizer.Options{NoSpecialTokens: true})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(e.Tokens, "[UNK]") {
			t.Errorf("%q -> %q has [UNK]", s, e.Tokens)
		}
	}
}

func TestWordPieceMinCount(t *testing.T) {
	dir := filepath.Join(root, "tokenizer/testdata/bert-base-uncased-vocab")
	vocab, err := readLines(dir + "/vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	full, err := tokenizer.LoadWordPiece(dir+"/vocab.txt", true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := trimWordPiece(vocab, full, []string{"the the the whale whale ishmael"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	has := func(s string) bool { return slices.Contains(res.Vocab, s) }
	if !has("the") || !has("whale") || has("ish") || has("##mae") || !has("a") || !has("##z") || !has("~") {
		t.Errorf("vocab %q", res.Vocab)
	}
	if res.Dropped == 0 {
		t.Error("no token dropped")
	}
	if !slices.Equal(res.Vocab[:5], bertSpecials) {
		t.Errorf("first ids %q", res.Vocab[:5])
	}
	// Original order after the specials.
	index := map[string]int{}
	for i, s := range vocab {
		index[s] = i
	}
	if !slices.IsSortedFunc(res.Vocab[5:], func(a, b string) int { return index[a] - index[b] }) {
		t.Error("trimmed vocabulary is not in the original order")
	}
}

func TestApplyBPERecordsIntermediateMerges(t *testing.T) {
	merges := [][2]string{{"a", "b"}, {"c", "d"}, {"ab", "cd"}, {"x", "y"}, {"ab", "x"}}
	ranks := map[[2]string]int{}
	for i, m := range merges {
		ranks[m] = i
	}
	used := map[int]bool{}
	got := applyBPE("abcdab", merges, ranks, used)
	if !slices.Equal(got, []string{"abcd", "ab"}) {
		t.Errorf("got %q", got)
	}
	if !used[0] || !used[1] || !used[2] || used[3] || used[4] {
		t.Errorf("used %v", used)
	}
}

func TestBPETrimKeepsTokenization(t *testing.T) {
	dir := filepath.Join(root, "tokenizer/testdata/gpt2")
	vocab, merges, err := readBPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	full, err := tokenizer.LoadBPE(dir+"/vocab.json", dir+"/merges.txt", false)
	if err != nil {
		t.Fatal(err)
	}
	corpus := texts(t, gpt2Sources)
	res, err := trimBPE(vocab, merges, full, corpus)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := writeBPE(out, res.Vocab, res.Merges, 128); err != nil {
		t.Fatal(err)
	}
	trimmed, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	n := len(res.Vocab)
	if trimmed.VocabSize() != n || n != 256+len(res.Merges)+1 {
		t.Fatalf("VocabSize %d, vocab %d, merges %d", trimmed.VocabSize(), n, len(res.Merges))
	}
	if id, ok := trimmed.TokenToID(endOfText); !ok || id != n-1 {
		t.Errorf("%s id %d, want %d", endOfText, id, n-1)
	}
	// The 256 byte tokens keep GPT-2's ids 0..255.
	for _, b := range byteAlphabet() {
		if id, _ := trimmed.TokenToID(b); id != vocab[b] || id >= 256 {
			t.Errorf("byte token %q has id %d, GPT-2 %d", b, id, vocab[b])
		}
	}
	// Merge ranks follow ids, as in GPT-2 (id = 256 + rank).
	for r, m := range res.Merges {
		if id, _ := trimmed.TokenToID(m[0] + m[1]); id != 256+r {
			t.Errorf("merge %d %q makes id %d", r, m, id)
			break
		}
	}
	// The corpus as tools/pretrain writes it (paragraph + "\n\n"), the
	// extras, and random ASCII.
	var all []string
	for _, s := range corpus {
		all = append(all, s, s+"\n\n")
	}
	all = append(append(all, bpeExtras()...), "The whale<|endoftext|>Call me Ishmael.")
	sameTokens(t, "corpus", full, trimmed, all)
	for _, s := range asciiWords(500) {
		e, err := trimmed.Encode(s, tokenizer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := trimmed.Decode(e.IDs, false); got != s {
			t.Errorf("round trip %q -> %q", s, got)
		}
	}
}

// TestCommittedFilesUpToDate regenerates the tokenizers with the default
// flags and compares them with the committed copies.
func TestCommittedFilesUpToDate(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(root); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	read := func(inputs []string) []string {
		var srcs []source
		for _, in := range inputs {
			srcs = append(srcs, parseSource(in))
		}
		txt, err := readTexts(srcs)
		if err != nil {
			t.Fatal(err)
		}
		return txt
	}
	wp, err := runWordPiece("tokenizer/testdata/bert-base-uncased-vocab", read(bertSources), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeWordPiece(filepath.Join(dir, "bert"), wp.Vocab, 128); err != nil {
		t.Fatal(err)
	}
	bp, err := runBPE("tokenizer/testdata/gpt2", read(gpt2Sources))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeBPE(filepath.Join(dir, "gpt2"), bp.Vocab, bp.Merges, 128); err != nil {
		t.Fatal(err)
	}
	for gen, committed := range map[string][]string{
		"bert": {"tools/pretrain/bert", "zoo/models/kiln-bert-mini"},
		"gpt2": {"tools/pretrain/gpt2", "zoo/models/kiln-gpt2-mini"},
	} {
		files, _ := filepath.Glob(filepath.Join(dir, gen, "*"))
		for _, f := range files {
			want, _ := os.ReadFile(f)
			for _, c := range committed {
				got, err := os.ReadFile(filepath.Join(c, filepath.Base(f)))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s/%s is missing or stale (%v): run go run ./tools/trimvocab", c, filepath.Base(f), err)
				}
			}
		}
	}
}

func TestParseSource(t *testing.T) {
	for in, want := range map[string]source{
		"a/b.jsonl":          {"a/b.jsonl", "text"},
		"a/b.csv:review":     {"a/b.csv", "review"},
		"C:/x/b.jsonl":       {"C:/x/b.jsonl", "text"},
		"./data/x.jsonl:txt": {"./data/x.jsonl", "txt"},
	} {
		if got := parseSource(in); got != want {
			t.Errorf("parseSource(%q) = %v, want %v", in, got, want)
		}
	}
	if !strings.Contains(parseSource("a.csv:f").String(), "a.csv:f") {
		t.Error("String")
	}
}
