package tokenizer

import (
	"slices"
	"testing"
)

// TestGoldenBERT is the id sequence Hugging Face's bert-base-uncased gives
// (see /work/shared/reference/assets.md §3) through both BERT loaders, and
// HF's decoding of it (its cleanup does not rejoin "isn ' t").
func TestGoldenBERT(t *testing.T) {
	want := []int{101, 2986, 1011, 17372, 14324, 1999, 2175, 3475, 1005, 1056, 2524, 1010, 2720, 1012, 3044, 999, 102}
	for _, dir := range []string{"testdata/bert-base-uncased", "testdata/bert-base-uncased-vocab"} {
		tok, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := tok.Encode("Fine-tuning BERT in Go isn't hard, Mr. Smith!", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(enc.IDs, want) {
			t.Errorf("%s: ids %v, want %v", dir, enc.IDs, want)
		}
		if got := tok.Decode(enc.IDs, true); got != "fine - tuning bert in go isn ' t hard, mr. smith!" {
			t.Errorf("%s: Decode = %q", dir, got)
		}
	}
}

func TestGoldenGPT2(t *testing.T) {
	tok, err := Load("testdata/gpt2")
	if err != nil {
		t.Fatal(err)
	}
	text := "Hello world! It's 2024 <|endoftext|>  ok\n\n😀"
	enc, err := tok.Encode(text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(enc.IDs, enc.Tokens, enc.Offsets)
	if got := tok.Decode(enc.IDs, false); got != text {
		t.Errorf("Decode = %q", got)
	}
}
