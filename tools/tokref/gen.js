// gen.js writes the Hugging Face reference encodings that the Go parity tests
// in tokenizer/ compare against. It runs HF's own Rust tokenizers library
// through its Node binding (npm `tokenizers`), which reports offsets in
// characters (Unicode code points), like the Python binding.
//
// Setup (outside the repository; never commit node_modules):
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm init -y && npm install tokenizers@0.23.2
// Run from the repository root:
//   NODE_PATH=/tmp/tokref/node_modules node tools/tokref/gen.js
//
// Inputs:  tokenizer/testdata/corpus.jsonl, the BERT tokenizer.json and the
//          GPT-2 vocab.json + merges.txt under tokenizer/testdata/.
// Outputs: tokenizer/testdata/bert_base_uncased_ref.json, gpt2_ref.json.
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..', '..');
const td = path.join(root, 'tokenizer', 'testdata');

// gpt2Json assembles HF's gpt2 tokenizer.json from the classic files, with
// the same settings as the file on the Hub. The Go test builds the same JSON
// (gpt2TokenizerJSON in parity_test.go) to exercise LoadFile.
function gpt2Json() {
  const vocab = JSON.parse(fs.readFileSync(path.join(td, 'gpt2', 'vocab.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(td, 'gpt2', 'merges.txt'), 'utf8').split('\n')
    .filter((l, i) => l !== '' && !(i === 0 && l.startsWith('#version')));
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null, pre_tokenizer: bl,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { ...bl, add_prefix_space: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

const strategies = { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' };

function dump(e, withOverflow) {
  const out = {
    ids: e.getIds(), type_ids: e.getTypeIds(), offsets: e.getOffsets(),
    tokens: e.getTokens(), word_ids: e.getWordIds().map((w) => (w === null || w === undefined ? -1 : w)),
    special_tokens_mask: e.getSpecialTokensMask(), attention_mask: e.getAttentionMask(),
  };
  if (withOverflow) out.overflowing = e.getOverflowing().map((o) => dump(o, false));
  return out;
}

async function run(tokPath, outName, rows) {
  const tok = Tokenizer.fromFile(tokPath);
  const results = [];
  for (const r of rows) {
    tok.disableTruncation();
    tok.disablePadding();
    if (r.trunc) tok.setTruncation(r.trunc.max_length, { strategy: strategies[r.trunc.strategy], stride: r.trunc.stride });
    const enc = r.pair === undefined ? await tok.encode(r.text) : await tok.encode(r.text, r.pair);
    const res = dump(enc, true);
    res.decoded = await tok.decode(enc.getIds(), true);
    if (!r.trunc) {
      const plain = r.pair === undefined ? await tok.encode(r.text, null, { addSpecialTokens: false }) : null;
      if (plain) res.ids_no_special = plain.getIds();
    }
    results.push(res);
  }
  const version = require('tokenizers/package.json').version;
  fs.writeFileSync(path.join(td, outName), JSON.stringify({ generator: `npm tokenizers@${version} (tools/tokref/gen.js)`, offsets: 'characters', rows: results }) + '\n');
  console.log('wrote', outName, results.length, 'rows');
}

(async () => {
  const rows = fs.readFileSync(path.join(td, 'corpus.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  await run(path.join(td, 'bert-base-uncased', 'tokenizer.json'), 'bert_base_uncased_ref.json', rows);
  const g = path.join(os.tmpdir(), 'kiln-gpt2-tokenizer.json');
  fs.writeFileSync(g, JSON.stringify(gpt2Json()));
  await run(g, 'gpt2_ref.json', rows);
})();
