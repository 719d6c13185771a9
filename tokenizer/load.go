package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// Load reads a tokenizer from a Hugging Face model directory, using the first
// of these that exists: tokenizer.json (the "fast" format), vocab.json +
// merges.txt (GPT-2 / RoBERTa byte-level BPE), vocab.txt (BERT WordPiece).
// A tokenizer_config.json next to the classic files is read for
// do_lower_case and add_prefix_space.
func Load(dir string) (*Tokenizer, error) {
	if p := filepath.Join(dir, "tokenizer.json"); exists(p) {
		return LoadFile(p)
	}
	cfg := readConfig(filepath.Join(dir, "tokenizer_config.json"))
	if v, m := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"); exists(v) && exists(m) {
		return LoadBPE(v, m, cfg.AddPrefixSpace != nil && *cfg.AddPrefixSpace)
	}
	if v := filepath.Join(dir, "vocab.txt"); exists(v) {
		return LoadWordPiece(v, cfg.DoLowerCase == nil || *cfg.DoLowerCase)
	}
	return nil, fmt.Errorf("tokenizer: %s has none of tokenizer.json, vocab.json + merges.txt, vocab.txt", dir)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

type tokenizerConfig struct {
	DoLowerCase    *bool `json:"do_lower_case"`
	AddPrefixSpace *bool `json:"add_prefix_space"`
}

func readConfig(path string) tokenizerConfig {
	var c tokenizerConfig
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &c) // optional file: a bad one is ignored, as transformers does
	}
	return c
}

// LoadWordPiece reads a BERT vocab.txt (one token per line, id = line number
// from 0) and builds BERT's tokenizer: BertNormalizer (lowercasing and accent
// stripping when lower is set, as for bert-base-uncased), BertPreTokenizer,
// WordPiece with "##" and [UNK], "[CLS] A [SEP] B [SEP]".
func LoadWordPiece(path string, lower bool) (*Tokenizer, error) {
	f, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	vocab := map[string]int{}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(f))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("tokenizer: %s:%d: invalid UTF-8", path, len(ids)+1)
		}
		vocab[line] = len(ids)
		ids = append(ids, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: %s:%d: %w", path, len(ids)+1, err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("tokenizer: %s: empty vocabulary", path)
	}
	for _, need := range []string{"[UNK]", "[CLS]", "[SEP]"} {
		if _, ok := vocab[need]; !ok {
			return nil, fmt.Errorf("tokenizer: %s: vocabulary has no %s token", path, need)
		}
	}
	wp, err := newWordPiece(vocab, "[UNK]", "##", 100)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	t := &Tokenizer{
		normalizer: &bertNormalizer{clean: true, chinese: true, strip: lower, lower: lower},
		pre:        bertPreTokenizer{},
		model:      wp,
		post:       bertTemplate("[CLS]", vocab["[CLS]"], "[SEP]", vocab["[SEP]"]),
		decoder:    wordPieceDecoder{prefix: "##", cleanup: true},
	}
	var added []AddedToken
	for _, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		if id, ok := vocab[s]; ok {
			added = append(added, AddedToken{Content: s, ID: id, Special: true})
		}
	}
	t.finish(vocab, ids, added)
	return t, nil
}

func bertTemplate(cls string, clsID int, sep string, sepID int) *templateProcessor {
	return &templateProcessor{
		single:   []piece{{special: cls}, {seq: 0}, {special: sep}},
		pair:     []piece{{special: cls}, {seq: 0}, {special: sep}, {seq: 1, typeID: 1}, {special: sep, typeID: 1}},
		specials: map[string]specialToken{cls: {[]int{clsID}, []string{cls}}, sep: {[]int{sepID}, []string{sep}}},
	}
}

// robertaTemplate is HF's RobertaProcessing: "<s> A </s>" and
// "<s> A </s> </s> B </s>", all type ids 0 (RoBERTa has no segment
// embeddings).
func robertaTemplate(cls string, clsID int, sep string, sepID int, trim, prefix bool) *templateProcessor {
	return &templateProcessor{
		single:   []piece{{special: cls}, {seq: 0}, {special: sep}},
		pair:     []piece{{special: cls}, {seq: 0}, {special: sep}, {special: sep}, {seq: 1}, {special: sep}},
		specials: map[string]specialToken{cls: {[]int{clsID}, []string{cls}}, sep: {[]int{sepID}, []string{sep}}},
		trim:     trim, addPrefixSpace: prefix,
	}
}

// LoadBPE reads GPT-2 style vocab.json + merges.txt and builds a byte-level
// BPE tokenizer. When the vocabulary has RoBERTa's <s> and </s> it adds
// them like RobertaTokenizer does; otherwise no special tokens are added
// (GPT-2). addPrefixSpace makes "Hello" encode like " Hello".
func LoadBPE(vocabPath, mergesPath string, addPrefixSpace bool) (*Tokenizer, error) {
	b, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(b, &vocab); err != nil {
		return nil, jsonError(vocabPath, b, err)
	}
	merges, err := readMerges(mergesPath)
	if err != nil {
		return nil, err
	}
	m, err := newBPE(vocab, merges, "", true, false)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", mergesPath, err)
	}
	t := &Tokenizer{
		pre:       byteLevelPreTokenizer{addPrefixSpace: addPrefixSpace, useRegex: true},
		prefixSpc: addPrefixSpace,
		model:     m,
		decoder:   byteLevelDecoder{},
	}
	var added []AddedToken
	cls, okC := vocab["<s>"]
	sep, okS := vocab["</s>"]
	if okC && okS {
		t.post = robertaTemplate("<s>", cls, "</s>", sep, true, addPrefixSpace)
		for _, s := range []string{"<s>", "<pad>", "</s>", "<unk>"} {
			if id, ok := vocab[s]; ok {
				added = append(added, AddedToken{Content: s, ID: id, Special: true})
			}
		}
		if id, ok := vocab["<mask>"]; ok {
			added = append(added, AddedToken{Content: "<mask>", ID: id, Special: true, LStrip: true})
		}
	} else {
		t.post = byteLevelProcessor{}
		if id, ok := vocab["<|endoftext|>"]; ok {
			added = append(added, AddedToken{Content: "<|endoftext|>", ID: id, Special: true})
		}
	}
	ids, err := idTable(vocab, vocabPath)
	if err != nil {
		return nil, err
	}
	t.finish(vocab, ids, added)
	return t, nil
}

func readMerges(path string) ([][2]string, error) {
	f, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var merges [][2]string
	for i, line := range strings.Split(string(f), "\n") {
		line = strings.TrimRight(line, "\r")
		if (i == 0 && strings.HasPrefix(line, "#version")) || line == "" {
			continue
		}
		parts := strings.Split(line, " ")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("tokenizer: %s:%d: want two space-separated tokens, got %q", path, i+1, line)
		}
		merges = append(merges, [2]string{parts[0], parts[1]})
	}
	return merges, nil
}

// idTable inverts a vocabulary and checks that its ids are 0..n-1.
func idTable(vocab map[string]int, path string) ([]string, error) {
	n := 0
	for _, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: %s: negative id %d", path, id)
		}
		n = max(n, id+1)
	}
	ids := make([]string, n)
	for tok, id := range vocab {
		ids[id] = tok
	}
	return ids, nil
}

// finish installs the vocabulary and added tokens.
func (t *Tokenizer) finish(vocab map[string]int, ids []string, added []AddedToken) {
	t.vocab = vocab
	t.idToToken = ids
	t.special = map[int]bool{}
	for _, a := range added {
		for len(t.idToToken) <= a.ID {
			t.idToToken = append(t.idToToken, "")
		}
		t.idToToken[a.ID] = a.Content
		t.vocab[a.Content] = a.ID
		if a.Special {
			t.special[a.ID] = true
		}
	}
	t.added.tokens = added
	for i, a := range added {
		if a.Normalized && t.normalizer != nil {
			// Match the normalized form of the token in normalized text.
			var n normalized
			normalize(t.normalizer, a.Content, 0, &n)
			t.added.norm.add(string(n.s), i)
		} else {
			t.added.raw.add(a.Content, i)
		}
	}
	t.added.raw.sort()
	t.added.norm.sort()
	if t.padToken == "" {
		for _, p := range []string{"[PAD]", "<pad>"} {
			if id, ok := vocab[p]; ok {
				t.padID, t.padToken = id, p
				break
			}
		}
	}
	if t.post == nil {
		t.post = byteLevelProcessor{}
	}
}

// jsonError turns a JSON error into one naming the file and line.
func jsonError(path string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	if errors.As(err, &se) {
		off = se.Offset
	} else if errors.As(err, &te) {
		off = te.Offset
	}
	if off >= 0 && off <= int64(len(data)) {
		line := 1 + bytes.Count(data[:off], []byte("\n"))
		return fmt.Errorf("tokenizer: %s:%d: %w", path, line, err)
	}
	return fmt.Errorf("tokenizer: %s: %w", path, err)
}

// hfFile is the subset of tokenizer.json that kiln reads.
type hfFile struct {
	AddedTokens []struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Padding       *struct {
		PadID     int    `json:"pad_id"`
		PadTypeID int    `json:"pad_type_id"`
		PadToken  string `json:"pad_token"`
	} `json:"padding"`
}

// component is the common shape of every pipeline component.
type component struct {
	Type string `json:"type"`
	// BertNormalizer
	CleanText          *bool `json:"clean_text"`
	HandleChineseChars *bool `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          *bool `json:"lowercase"`
	// Sequence
	Normalizers   []json.RawMessage `json:"normalizers"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`
	Decoders      []json.RawMessage `json:"decoders"`
	// ByteLevel
	AddPrefixSpace *bool `json:"add_prefix_space"`
	TrimOffsets    *bool `json:"trim_offsets"`
	UseRegex       *bool `json:"use_regex"`
	// WordPiece decoder
	Prefix  string `json:"prefix"`
	Cleanup *bool  `json:"cleanup"`
	// post-processors
	Single []map[string]struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"single"`
	Pair []map[string]struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"pair"`
	SpecialTokens map[string]struct {
		IDs    []int    `json:"ids"`
		Tokens []string `json:"tokens"`
	} `json:"special_tokens"`
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
}

type hfModel struct {
	Type                    string          `json:"type"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
	Dropout                 *float64        `json:"dropout"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
}

// LoadFile reads a Hugging Face tokenizer.json. Supported components:
// normalizers BertNormalizer, Lowercase, NFD, StripAccents and Sequence;
// pre-tokenizers BertPreTokenizer, ByteLevel, Whitespace and a Sequence of
// one; models WordPiece and BPE; post-processors TemplateProcessing,
// BertProcessing, RobertaProcessing and ByteLevel; decoders WordPiece and
// ByteLevel. Anything else is an error naming the file and the component.
// The file's truncation and padding presets are NOT applied: kiln passes
// them explicitly in Options; only the padding token is taken from it.
func LoadFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(path, data, err)
	}
	fail := func(what string, err error) (*Tokenizer, error) {
		return nil, fmt.Errorf("tokenizer: %s: %s: %w", path, what, err)
	}
	t := &Tokenizer{}
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return fail("normalizer", err)
	}
	var bl *byteLevelPreTokenizer
	if t.pre, bl, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return fail("pre_tokenizer", err)
	}
	if bl != nil {
		t.prefixSpc = bl.addPrefixSpace
	}
	var mod hfModel
	if err := json.Unmarshal(f.Model, &mod); err != nil {
		return fail("model", err)
	}
	if mod.Type == "" { // older files omit the model type
		if mod.Merges != nil {
			mod.Type = "BPE"
		} else if mod.MaxInputCharsPerWord != nil {
			mod.Type = "WordPiece"
		}
	}
	switch mod.Type {
	case "WordPiece":
		unk, prefix, maxChars := "[UNK]", "##", 100
		if mod.UnkToken != nil {
			unk = *mod.UnkToken
		}
		if mod.ContinuingSubwordPrefix != nil {
			prefix = *mod.ContinuingSubwordPrefix
		}
		if mod.MaxInputCharsPerWord != nil {
			maxChars = *mod.MaxInputCharsPerWord
		}
		if t.model, err = newWordPiece(mod.Vocab, unk, prefix, maxChars); err != nil {
			return fail("model WordPiece", err)
		}
	case "BPE":
		if mod.ByteFallback || (mod.Dropout != nil && *mod.Dropout > 0) ||
			(mod.ContinuingSubwordPrefix != nil && *mod.ContinuingSubwordPrefix != "") ||
			(mod.EndOfWordSuffix != nil && *mod.EndOfWordSuffix != "") {
			return fail("model BPE", errors.New("byte_fallback, dropout, continuing_subword_prefix and end_of_word_suffix are not supported"))
		}
		merges, err := parseMerges(mod.Merges)
		if err != nil {
			return fail("model BPE merges", err)
		}
		unk := ""
		if mod.UnkToken != nil {
			unk = *mod.UnkToken
		}
		if t.model, err = newBPE(mod.Vocab, merges, unk, bl != nil, mod.FuseUnk); err != nil {
			return fail("model BPE", err)
		}
	default:
		return fail("model", fmt.Errorf("unsupported model type %q", mod.Type))
	}
	vocab := mod.Vocab
	for _, a := range f.AddedTokens {
		vocab[a.Content] = a.ID
	}
	ids, err := idTable(vocab, path)
	if err != nil {
		return nil, err
	}
	if t.post, err = parsePost(f.PostProcessor, vocab); err != nil {
		return fail("post_processor", err)
	}
	if t.decoder, err = parseDecoder(f.Decoder); err != nil {
		return fail("decoder", err)
	}
	var added []AddedToken
	for _, a := range f.AddedTokens {
		added = append(added, AddedToken{Content: a.Content, ID: a.ID, Special: a.Special, SingleWord: a.SingleWord, LStrip: a.LStrip, RStrip: a.RStrip, Normalized: a.Normalized})
	}
	sort.SliceStable(added, func(i, j int) bool { return added[i].ID < added[j].ID })
	if f.Padding != nil {
		t.padID, t.padType, t.padToken = f.Padding.PadID, f.Padding.PadTypeID, f.Padding.PadToken
	}
	t.finish(vocab, ids, added)
	return t, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func parseComponent(raw json.RawMessage) (*component, error) {
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, err
	}
	on := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	switch c.Type {
	case "BertNormalizer":
		lower := on(c.Lowercase, true)
		// strip_accents: null means "follow lowercase", as in BERT.
		return &bertNormalizer{clean: on(c.CleanText, true), chinese: on(c.HandleChineseChars, true), strip: on(c.StripAccents, lower), lower: lower}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "NFD":
		return nfdNormalizer{}, nil
	case "StripAccents":
		return stripAccentsNormalizer{}, nil
	case "Sequence":
		var seq sequenceNormalizer
		for _, r := range c.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	}
	return nil, fmt.Errorf("unsupported normalizer type %q", c.Type)
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, *byteLevelPreTokenizer, error) {
	if isNull(raw) {
		return byteLevelPreTokenizer{}, nil, nil // no pre-tokenizer: the whole segment is one piece
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, nil, err
	}
	switch c.Type {
	case "BertPreTokenizer":
		return bertPreTokenizer{}, nil, nil
	case "Whitespace":
		return whitespacePreTokenizer{}, nil, nil
	case "ByteLevel":
		bl := byteLevelPreTokenizer{addPrefixSpace: c.AddPrefixSpace != nil && *c.AddPrefixSpace, useRegex: c.UseRegex == nil || *c.UseRegex}
		return bl, &bl, nil
	case "Sequence":
		if len(c.PreTokenizers) == 1 {
			return parsePreTokenizer(c.PreTokenizers[0])
		}
		return nil, nil, fmt.Errorf("unsupported pre-tokenizer Sequence of %d (only one element is supported)", len(c.PreTokenizers))
	}
	return nil, nil, fmt.Errorf("unsupported pre-tokenizer type %q", c.Type)
}

func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var asStrings []string
	if err := json.Unmarshal(raw, &asStrings); err == nil {
		out := make([][2]string, len(asStrings))
		for i, s := range asStrings {
			a, b, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merge %d %q is not two space-separated tokens", i+1, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, err
	}
	return pairs, nil
}

func parsePost(raw json.RawMessage, vocab map[string]int) (postProcessor, error) {
	if isNull(raw) {
		return byteLevelProcessor{}, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, err
	}
	tokenPair := func(r []json.RawMessage) (string, int, error) {
		var s string
		var id int
		if len(r) != 2 || json.Unmarshal(r[0], &s) != nil || json.Unmarshal(r[1], &id) != nil {
			return "", 0, errors.New("cls/sep must be [token, id]")
		}
		return s, id, nil
	}
	switch c.Type {
	case "TemplateProcessing":
		p := &templateProcessor{specials: map[string]specialToken{}}
		for name, st := range c.SpecialTokens {
			if len(st.IDs) != len(st.Tokens) {
				return nil, fmt.Errorf("special token %q has %d ids and %d tokens", name, len(st.IDs), len(st.Tokens))
			}
			p.specials[name] = specialToken{st.IDs, st.Tokens}
		}
		conv := func(tpl []map[string]struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		}) ([]piece, error) {
			var out []piece
			for _, m := range tpl {
				if s, ok := m["SpecialToken"]; ok {
					if _, ok := p.specials[s.ID]; !ok {
						return nil, fmt.Errorf("template uses undefined special token %q", s.ID)
					}
					out = append(out, piece{special: s.ID, typeID: s.TypeID})
				} else if s, ok := m["Sequence"]; ok {
					seq := 0
					if s.ID == "B" {
						seq = 1
					}
					out = append(out, piece{seq: seq, typeID: s.TypeID})
				}
			}
			return out, nil
		}
		if p.single, err = conv(c.Single); err != nil {
			return nil, err
		}
		if p.pair, err = conv(c.Pair); err != nil {
			return nil, err
		}
		return p, nil
	case "BertProcessing", "RobertaProcessing":
		sep, sepID, err := tokenPair(c.Sep)
		if err != nil {
			return nil, err
		}
		cls, clsID, err := tokenPair(c.Cls)
		if err != nil {
			return nil, err
		}
		if c.Type == "BertProcessing" {
			return bertTemplate(cls, clsID, sep, sepID), nil
		}
		return robertaTemplate(cls, clsID, sep, sepID, c.TrimOffsets == nil || *c.TrimOffsets, c.AddPrefixSpace == nil || *c.AddPrefixSpace), nil
	case "ByteLevel":
		return byteLevelProcessor{trim: c.TrimOffsets == nil || *c.TrimOffsets, addPrefixSpace: c.AddPrefixSpace == nil || *c.AddPrefixSpace}, nil
	}
	return nil, fmt.Errorf("unsupported post-processor type %q", c.Type)
}

func parseDecoder(raw json.RawMessage) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, err
	}
	switch c.Type {
	case "WordPiece":
		prefix := c.Prefix
		if prefix == "" {
			prefix = "##"
		}
		return wordPieceDecoder{prefix: prefix, cleanup: c.Cleanup == nil || *c.Cleanup}, nil
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	}
	return nil, fmt.Errorf("unsupported decoder type %q", c.Type)
}
