// Package tokenizer implements the Hugging Face tokenizers kiln trains with:
// BERT's WordPiece and GPT-2/RoBERTa's byte-level BPE, loaded from a
// tokenizer.json or from the classic vocab.txt / vocab.json + merges.txt,
// with the same ids, type ids, offsets, word ids, truncation windows and
// decoding as Hugging Face's Rust library (checked row by row against
// tokenizers 0.23.2 on testdata/corpus.jsonl; see tools/tokref).
//
// Usage:
//
//	tok, err := tokenizer.Load("path/to/bert-base-uncased") // directory
//	enc, err := tok.EncodePair(question, context, tokenizer.Options{
//		Truncation: tokenizer.OnlySecond, MaxLength: 384, Stride: 128,
//		Padding:    tokenizer.PadMaxLength,
//	})
//	// enc.IDs, enc.TypeIDs, enc.AttentionMask, enc.Offsets, enc.WordIDs,
//	// enc.SpecialTokensMask; enc.Overflowing holds the further windows.
//	encs, err := tok.EncodeBatch(texts, tokenizer.Options{Padding: tokenizer.PadLongest})
//	text := tok.Decode(enc.IDs, true)
//
// The pipeline is Hugging Face's: added tokens are cut out of the RAW text
// (so "[CLS]" is found before lowercasing), each remaining segment is
// normalized, pre-tokenized into words, and each word is tokenized by the
// model; the post-processor then adds special tokens ([CLS] A [SEP] B [SEP]
// for BERT, none for GPT-2), and truncation and padding follow HF's rules.
//
// Offsets: Encoding.Offsets are in characters (Unicode code points), the unit
// of HF's Python and Node bindings (the Node binding was checked: "😀" is one
// unit, not two UTF-16 units or four bytes); Encoding.ByteOffsets are the same
// spans in bytes, for slicing Go strings. Both point into the original text.
//
// Deliberate differences from tokenizers 0.23.2, documented where they live:
// overflowing windows cover the whole text (0.23.1 stops tokenizing at
// MaxLength, HF issue #2091); the truncation and padding presets stored in a
// tokenizer.json are ignored in favour of Options; NFD is applied per
// character (no canonical reordering across input characters); NFC/NFKC,
// Unigram, WordLevel and left truncation are not supported and are reported
// as errors naming the file and the component.
//
// Batch calls run on kiln's shared worker pool (internal/parallel); a
// Tokenizer is safe for concurrent use.
package tokenizer
