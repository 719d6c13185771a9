package tokenizer_test

import (
	"fmt"

	"github.com/kiln-ml/kiln/tokenizer"
)

func Example() {
	tok, err := tokenizer.Load("testdata/bert-base-uncased")
	if err != nil {
		panic(err)
	}
	enc, err := tok.EncodePair("Who is it?", "It's Mr. Smith.", tokenizer.Options{
		Padding: tokenizer.PadMaxLength, MaxLength: 16,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(enc.Tokens)
	fmt.Println(enc.IDs)
	fmt.Println(enc.TypeIDs)
	fmt.Println(enc.AttentionMask)
	fmt.Println(enc.Offsets[5:9])
	// HF cleans up per token, so "' s" stays apart, exactly as in Python.
	fmt.Println(tok.Decode(enc.IDs, true))
	// Output:
	// [[CLS] who is it ? [SEP] it ' s mr . smith . [SEP] [PAD] [PAD]]
	// [101 2040 2003 2009 1029 102 2009 1005 1055 2720 1012 3044 1012 102 0 0]
	// [0 0 0 0 0 0 1 1 1 1 1 1 1 1 0 0]
	// [1 1 1 1 1 1 1 1 1 1 1 1 1 1 0 0]
	// [{0 0} {0 2} {2 3} {3 4}]
	// who is it? it ' s mr. smith.
}
