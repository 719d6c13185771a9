package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadBERT(t testing.TB) *Tokenizer {
	tok, err := Load("testdata/bert-base-uncased")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOverflowWindows checks kiln's default stride windows over the whole
// text (HF 0.22.2 behaviour): "a".."p" are one token each, the window holds 4
// tokens of the context and repeats 1.
func TestOverflowWindows(t *testing.T) {
	tok := loadBERT(t)
	enc, err := tok.EncodePair("q", "a b c d e f g h i j k l m n o p", Options{Truncation: OnlySecond, MaxLength: 8, Stride: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range append([]*Encoding{enc}, enc.Overflowing...) {
		got = append(got, strings.Join(e.Tokens, " "))
	}
	want := []string{
		"[CLS] q [SEP] a b c d [SEP]", "[CLS] q [SEP] d e f g [SEP]", "[CLS] q [SEP] g h i j [SEP]",
		"[CLS] q [SEP] j k l m [SEP]", "[CLS] q [SEP] m n o p [SEP]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("windows\n got  %q\n want %q", got, want)
	}
	// Offsets of a window point into the context.
	if o := enc.Overflowing[0].Offsets[3]; o != (Offset{6, 7}) {
		t.Errorf("offset of d = %v", o)
	}
}

func TestPaddingAndBatch(t *testing.T) {
	tok := loadBERT(t)
	texts := []string{"short", "a somewhat longer sentence here", "Café 😀"}
	encs, err := tok.EncodeBatch(texts, Options{Padding: PadLongest, PadToMultipleOf: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range encs {
		if e.Len() != 8 || len(e.AttentionMask) != 8 || len(e.Offsets) != 8 {
			t.Fatalf("row %d: length %d, want 8", i, e.Len())
		}
		single, _ := tok.Encode(texts[i], Options{})
		if !slices.Equal(e.IDs[:single.Len()], single.IDs) {
			t.Errorf("row %d: batch ids %v differ from Encode %v", i, e.IDs, single.IDs)
		}
		for j := single.Len(); j < 8; j++ {
			if e.IDs[j] != 0 || e.AttentionMask[j] != 0 || e.SpecialTokensMask[j] != 1 || e.WordIDs[j] != -1 {
				t.Errorf("row %d position %d is not padding", i, j)
			}
		}
	}
	e, _ := tok.Encode("hi", Options{Padding: PadMaxLength, MaxLength: 6, PadLeft: true})
	if !slices.Equal(e.IDs, []int{0, 0, 0, 101, 7632, 102}) || !slices.Equal(e.AttentionMask, []int{0, 0, 0, 1, 1, 1}) {
		t.Errorf("left padding: %v %v", e.IDs, e.AttentionMask)
	}
}

func TestByteOffsets(t *testing.T) {
	tok := loadBERT(t)
	text := "Héllo 😀 wörld"
	e, _ := tok.Encode(text, Options{NoSpecialTokens: true})
	var words []string
	for _, o := range e.ByteOffsets {
		words = append(words, text[o.Start:o.End])
	}
	if want := []string{"Héllo", "😀", "wörld"}; !slices.Equal(words, want) {
		t.Errorf("byte offsets cut %q, want %q", words, want)
	}
	if want := []Offset{{0, 5}, {6, 7}, {8, 13}}; !slices.Equal(e.Offsets, want) {
		t.Errorf("char offsets %v, want %v", e.Offsets, want)
	}
}

func TestTruncationErrors(t *testing.T) {
	tok := loadBERT(t)
	if _, err := tok.Encode("a b c", Options{Truncation: OnlySecond, MaxLength: 4}); err == nil {
		t.Error("OnlySecond on a single text: no error")
	}
	if _, err := tok.Encode("a b c d e", Options{Truncation: LongestFirst, MaxLength: 4, Stride: 2}); err == nil {
		t.Error("stride >= effective max length: no error")
	}
	if _, err := tok.EncodePair("a b c", "d", Options{Truncation: OnlySecond, MaxLength: 4}); err == nil {
		t.Error("second text too short to truncate: no error")
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		load func() error
		want string
	}{
		{func() error { _, err := LoadWordPiece(write("v1.txt", "[UNK]\n[CLS]\n\xff\n"), true); return err }, "v1.txt:3"},
		{func() error { _, err := LoadWordPiece(write("v2.txt", "a\nb\n"), true); return err }, "no [UNK]"},
		{func() error {
			_, err := LoadBPE(write("vocab.json", `{"a":0,"b":1,"ab":2}`), write("merges.txt", "#version: 0.2\na b\nab\n"), false)
			return err
		}, "merges.txt:3"},
		{func() error {
			_, err := LoadBPE(write("v3.json", "{\n\"a\": 0,\n\"b\": x}"), write("m.txt", ""), false)
			return err
		}, "v3.json:3"},
		{func() error {
			_, err := LoadFile(write("t1.json", `{"model":{"type":"Unigram","vocab":[]}}`))
			return err
		}, `t1.json: model`},
		{func() error {
			_, err := LoadFile(write("t2.json", `{"normalizer":{"type":"NFKC"},"model":{"type":"WordPiece","vocab":{"[UNK]":0}}}`))
			return err
		}, `unsupported normalizer type "NFKC"`},
		{func() error { _, err := Load(dir + "/missing"); return err }, "has none of"},
	}
	for i, c := range cases {
		err := c.load()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: error %v, want it to mention %q", i, err, c.want)
		}
	}
}

func TestAddPrefixSpace(t *testing.T) {
	tok, err := LoadBPE("testdata/gpt2/vocab.json", "testdata/gpt2/merges.txt", true)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tok.Encode("Hello world", Options{})
	b, _ := tok.Encode(" Hello world", Options{})
	if !slices.Equal(a.IDs, []int{18435, 995}) || !slices.Equal(a.IDs, b.IDs) {
		t.Errorf("add_prefix_space: %v and %v", a.IDs, b.IDs)
	}
	if a.Offsets[0] != (Offset{0, 5}) {
		t.Errorf("first offset %v, want {0 5}", a.Offsets[0])
	}
}
