package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// decoder turns tokens back into text (HF's decoder).
type decoder interface {
	decode(tokens []string) string
}

// Decode converts ids back to text. With skipSpecial, special added tokens
// such as [CLS] and [PAD] are left out. Unknown ids are skipped.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= len(t.idToToken) || (skipSpecial && t.special[id]) {
			continue
		}
		toks = append(toks, t.idToToken[id])
	}
	if t.decoder == nil {
		return strings.Join(toks, " ")
	}
	return t.decoder.decode(toks)
}

// wordPieceDecoder is HF's WordPiece decoder: "##" pieces are glued to the
// previous token, other tokens are separated by a space, and with cleanup
// each token goes through HF's clean_up_tokenization (" ." -> "." etc.), which
// makes "isn ' t" come back as "isn't".
type wordPieceDecoder struct {
	prefix  string
	cleanup bool
}

var cleanupReplacer = []struct{ from, to string }{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
	{" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"},
	{" 've", "'ve"}, {" 're", "'re"},
}

func cleanup(s string) string {
	// HF applies the replacements one after another, so a later rule sees
	// the output of earlier ones.
	for _, r := range cleanupReplacer {
		s = strings.ReplaceAll(s, r.from, r.to)
	}
	return s
}

func (d wordPieceDecoder) decode(tokens []string) string {
	var b strings.Builder
	for i, tok := range tokens {
		if i > 0 {
			if strings.HasPrefix(tok, d.prefix) {
				tok = tok[len(d.prefix):]
			} else {
				tok = " " + tok
			}
		}
		if d.cleanup {
			tok = cleanup(tok)
		}
		b.WriteString(tok)
	}
	return b.String()
}

// byteLevelDecoder maps GPT-2's byte alphabet back to bytes. Tokens holding a
// character outside that alphabet are copied verbatim, and invalid UTF-8 is
// replaced by U+FFFD, like Rust's String::from_utf8_lossy.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decode(tokens []string) string {
	var buf []byte
	for _, tok := range tokens {
		n := len(buf)
		ok := true
		for _, r := range tok {
			b, found := runeToByte[r]
			if !found {
				ok = false
				break
			}
			buf = append(buf, b)
		}
		if !ok {
			buf = append(buf[:n], tok...)
		}
	}
	if utf8.Valid(buf) {
		return string(buf)
	}
	return strings.ToValidUTF8(string(buf), "\uFFFD")
}
