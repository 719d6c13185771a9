package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// writeFile writes dir/name, creating dir.
func writeFile(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

// marshal is json.MarshalIndent with two spaces, no HTML escaping ("<" stays
// "<", as Python's json.dumps writes it) and a final newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// orderedVocab marshals as a JSON object token -> id in id order.
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for id, tok := range v {
		if id > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(tok)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		k, _ = json.Marshal(id)
		b.Write(k)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(s string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// writeWordPiece writes a BertTokenizer directory: vocab.txt,
// tokenizer_config.json and special_tokens_map.json as
// BertTokenizer.save_pretrained writes them, so that kiln's tokenizer.Load
// and transformers' AutoTokenizer (which builds the fast tokenizer from
// vocab.txt) both load it.
func writeWordPiece(dir string, vocab []string, maxLength int) error {
	if err := writeFile(dir, "vocab.txt", []byte(strings.Join(vocab, "\n")+"\n")); err != nil {
		return err
	}
	cfg, err := marshal(map[string]any{
		"tokenizer_class":              "BertTokenizer",
		"do_lower_case":                true,
		"do_basic_tokenize":            true,
		"never_split":                  nil,
		"tokenize_chinese_chars":       true,
		"strip_accents":                nil,
		"unk_token":                    "[UNK]",
		"sep_token":                    "[SEP]",
		"pad_token":                    "[PAD]",
		"cls_token":                    "[CLS]",
		"mask_token":                   "[MASK]",
		"model_max_length":             maxLength,
		"clean_up_tokenization_spaces": true,
	})
	if err != nil {
		return err
	}
	if err := writeFile(dir, "tokenizer_config.json", cfg); err != nil {
		return err
	}
	sp, err := marshal(map[string]string{
		"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
	})
	if err != nil {
		return err
	}
	return writeFile(dir, "special_tokens_map.json", sp)
}

// writeBPE writes a GPT2Tokenizer directory: vocab.json, merges.txt
// ("#version: 0.2" first, as GPT2Tokenizer.save_vocabulary writes it),
// tokenizer_config.json and special_tokens_map.json.
func writeBPE(dir string, vocab []string, merges [][2]string, maxLength int) error {
	v, err := marshal(orderedVocab(vocab))
	if err != nil {
		return err
	}
	if err := writeFile(dir, "vocab.json", v); err != nil {
		return err
	}
	var m strings.Builder
	m.WriteString("#version: 0.2\n")
	for _, p := range merges {
		m.WriteString(p[0] + " " + p[1] + "\n")
	}
	if err := writeFile(dir, "merges.txt", []byte(m.String())); err != nil {
		return err
	}
	cfg, err := marshal(map[string]any{
		"tokenizer_class":              "GPT2Tokenizer",
		"add_prefix_space":             false,
		"add_bos_token":                false,
		"errors":                       "replace",
		"bos_token":                    endOfText,
		"eos_token":                    endOfText,
		"unk_token":                    endOfText,
		"model_max_length":             maxLength,
		"clean_up_tokenization_spaces": true,
	})
	if err != nil {
		return err
	}
	if err := writeFile(dir, "tokenizer_config.json", cfg); err != nil {
		return err
	}
	sp, err := marshal(map[string]string{"bos_token": endOfText, "eos_token": endOfText, "unk_token": endOfText})
	if err != nil {
		return err
	}
	return writeFile(dir, "special_tokens_map.json", sp)
}
