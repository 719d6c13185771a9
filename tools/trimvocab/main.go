// Command trimvocab cuts the real bert-base-uncased WordPiece vocabulary and
// the real GPT-2 byte-level BPE down to the tokens kiln's pretraining and
// first fine-tuning corpora use, for the small models in package zoo. Run it
// from the repository root:
//
//	go run ./tools/trimvocab
//
// WordPiece: the corpus is tokenized with the full 30 522-token vocabulary;
// the trimmed vocab.txt holds [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4,
// then, in the original order, every printable ASCII character and its "##"
// form that the full vocabulary has (so any ASCII word tokenizes without
// [UNK]) and every token seen at least -min-count times.
//
// BPE: the corpus is tokenized with the full GPT-2 BPE (50 000 merges); the
// merge loop is replayed on every distinct pre-tokenized word to record each
// merge applied (intermediate ones included); the trimmed vocab.json holds the
// 256 byte tokens, the tokens those merges make and <|endoftext|> (last), and
// merges.txt those merges in their original rank order.
//
// With -min-count 1 (the default) both trimmed tokenizers give every corpus
// text exactly the tokens the full ones give: trim_test.go checks it with
// kiln's tokenizer, and hfcheck.js with Hugging Face's own Rust library (run
// by hand; see its header). Each output directory also gets
// tokenizer_config.json and special_tokens_map.json as transformers'
// save_pretrained writes them. kiln's tokenizer package has no tokenizer.json
// writer, so none is written: kiln loads vocab.txt / vocab.json + merges.txt,
// and transformers builds its fast tokenizer from them.
//
// Flags:
//
//	-bert-input PATH[:FIELD]
//	                     a corpus file for the WordPiece vocabulary and its
//	                     text field (default "text"); repeat it; default: the
//	                     Moby-Dick, Austen and SOTU JSONL files and
//	                     fine_foods_train.csv:review
//	-gpt2-input PATH[:FIELD]
//	                     the same for the BPE; default: the three
//	                     public-domain LM corpora only (with the fine-food
//	                     reviews the BPE keeps 23 553 merges instead of
//	                     14 817, and the model's f16 weights pass 7 MB)
//	-min-count N         keep WordPiece tokens seen at least N times (1)
//	-bert DIR, -gpt2 DIR the full tokenizers (tokenizer/testdata/...)
//	-bert-out DIRS, -gpt2-out DIRS
//	                     comma-separated output directories (default the
//	                     tools/pretrain config directory and the zoo model)
//	-bert-max-length N, -gpt2-max-length N
//	                     model_max_length written to tokenizer_config.json
//	                     (128 for both, the models' position tables)
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/kiln-ml/kiln/tokenizer"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	log.SetFlags(0)
	log.SetPrefix("trimvocab: ")
	var bertIn, gpt2In listFlag
	flag.Var(&bertIn, "bert-input", "WordPiece corpus file PATH[:FIELD] (repeatable)")
	flag.Var(&gpt2In, "gpt2-input", "BPE corpus file PATH[:FIELD] (repeatable)")
	minCount := flag.Int("min-count", 1, "keep WordPiece tokens seen at least this many times")
	bertDir := flag.String("bert", "tokenizer/testdata/bert-base-uncased-vocab", "directory with the full bert-base-uncased vocab.txt")
	gpt2Dir := flag.String("gpt2", "tokenizer/testdata/gpt2", "directory with the full GPT-2 vocab.json and merges.txt")
	bertOut := flag.String("bert-out", "tools/pretrain/bert,zoo/models/kiln-bert-mini", "comma-separated output directories for the WordPiece tokenizer")
	gpt2Out := flag.String("gpt2-out", "tools/pretrain/gpt2,zoo/models/kiln-gpt2-mini", "comma-separated output directories for the BPE tokenizer")
	bertMax := flag.Int("bert-max-length", 128, "model_max_length of the WordPiece tokenizer")
	gpt2Max := flag.Int("gpt2-max-length", 128, "model_max_length of the BPE tokenizer")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "trimvocab: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if len(bertIn) == 0 {
		bertIn = bertSources
	}
	if len(gpt2In) == 0 {
		gpt2In = gpt2Sources
	}

	texts, err := corpus("wordpiece", bertIn)
	if err != nil {
		log.Fatal(err)
	}
	wp, err := runWordPiece(*bertDir, texts, *minCount)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range splitDirs(*bertOut) {
		if err := writeWordPiece(d, wp.Vocab, *bertMax); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("wrote %s\n", d)
	}
	if texts, err = corpus("bpe", gpt2In); err != nil {
		log.Fatal(err)
	}
	bp, err := runBPE(*gpt2Dir, texts)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range splitDirs(*gpt2Out) {
		if err := writeBPE(d, bp.Vocab, bp.Merges, *gpt2Max); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("wrote %s\n", d)
	}
}

// corpus reads the texts of the named sources.
func corpus(what string, inputs []string) ([]string, error) {
	var srcs []source
	for _, in := range inputs {
		srcs = append(srcs, parseSource(in))
	}
	texts, err := readTexts(srcs)
	if err != nil {
		return nil, err
	}
	fmt.Printf("%s corpus: %d texts from %s\n", what, len(texts), strings.Join(inputs, ", "))
	return texts, nil
}

func splitDirs(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

func runWordPiece(dir string, texts []string, minCount int) (*wordPieceTrim, error) {
	vocab, err := readLines(dir + "/vocab.txt")
	if err != nil {
		return nil, err
	}
	full, err := tokenizer.LoadWordPiece(dir+"/vocab.txt", true)
	if err != nil {
		return nil, err
	}
	wp, err := trimWordPiece(vocab, full, texts, minCount)
	if err != nil {
		return nil, err
	}
	fmt.Printf("wordpiece: %d corpus tokens (%d [UNK]), %d distinct; kept %d of %d (%d ASCII characters and ##characters added unseen, %d rare tokens dropped)\n",
		wp.Tokens, wp.Unknown, len(wp.Counts), len(wp.Vocab), len(vocab), wp.Alphabet-countSeen(wp), wp.Dropped)
	return wp, nil
}

// countSeen is how many kept ASCII alphabet tokens the corpus also produced.
func countSeen(wp *wordPieceTrim) int {
	n := 0
	for c := byte('!'); c <= '~'; c++ {
		for _, s := range []string{string(c), "##" + string(c)} {
			if wp.Counts[s] > 0 {
				n++
			}
		}
	}
	return n
}

func runBPE(dir string, texts []string) (*bpeTrim, error) {
	vocab, merges, err := readBPE(dir)
	if err != nil {
		return nil, err
	}
	full, err := tokenizer.LoadBPE(dir+"/vocab.json", dir+"/merges.txt", false)
	if err != nil {
		return nil, err
	}
	bp, err := trimBPE(vocab, merges, full, texts)
	if err != nil {
		return nil, err
	}
	fmt.Printf("bpe: %d corpus tokens, %d distinct words; kept %d of %d merges, vocabulary %d of %d\n",
		bp.Tokens, bp.Words, len(bp.Merges), len(merges), len(bp.Vocab), len(vocab))
	return bp, nil
}
