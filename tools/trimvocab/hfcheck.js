// hfcheck.js checks the trimmed tokenizers with Hugging Face's own Rust
// tokenizers library (npm `tokenizers`, Node binding), independently of
// kiln's tokenizer package: every corpus text must give the same tokens with
// the trimmed files as with the full bert-base-uncased / GPT-2 ones.
//
// Setup (outside the repository; never commit node_modules):
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm init -y && npm install tokenizers@0.23.2
// Run from the repository root, after go run ./tools/trimvocab:
//   NODE_PATH=/tmp/tokref/node_modules node tools/trimvocab/hfcheck.js
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..', '..');
const rd = (...p) => fs.readFileSync(path.join(root, ...p), 'utf8');

// csvColumn returns one column of an RFC 4180 CSV file with a header.
function csvColumn(text, name) {
  const rows = [];
  let row = [], f = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; } else if (c === '"') q = false; else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(f); f = ''; } else if (c === '\n') { row.push(f); rows.push(row); row = []; f = ''; } else if (c !== '\r') f += c;
  }
  if (f !== '' || row.length) { row.push(f); rows.push(row); }
  const col = rows[0].indexOf(name);
  return rows.slice(1).map((r) => r[col]).filter((s) => s && s.trim() !== '');
}

const jsonl = (f) => rd('data', 'testdata', f).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l).text);
const lm = ['moby_dick.jsonl', 'austen.jsonl', 'sotu_paragraphs.jsonl'].flatMap(jsonl);
const foods = csvColumn(rd('data', 'testdata', 'fine_foods_train.csv'), 'review');

function bertJson(vocabLines) {
  const j = JSON.parse(rd('tokenizer', 'testdata', 'bert-base-uncased', 'tokenizer.json'));
  const vocab = {};
  vocabLines.forEach((t, i) => { vocab[t] = i; });
  j.model.vocab = vocab;
  for (const a of j.added_tokens) a.id = vocab[a.content];
  for (const [k, v] of Object.entries(j.post_processor.special_tokens)) v.ids = [vocab[k]];
  return j;
}

function gpt2Json(dir) {
  const vocab = JSON.parse(rd(dir, 'vocab.json'));
  const merges = rd(dir, 'merges.txt').split('\n').filter((l, i) => l !== '' && !(i === 0 && l.startsWith('#version')));
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: vocab['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null, pre_tokenizer: bl,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { ...bl, add_prefix_space: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

function load(json) {
  const f = path.join(os.tmpdir(), `kiln-hfcheck-${process.pid}-${Math.random()}.json`);
  fs.writeFileSync(f, JSON.stringify(json));
  const t = Tokenizer.fromFile(f);
  fs.unlinkSync(f);
  return t;
}

async function compare(name, full, trimmed, texts) {
  let bad = 0;
  for (const s of texts) {
    const a = (await full.encode(s)).getTokens().join(' ');
    const b = (await trimmed.encode(s)).getTokens().join(' ');
    if (a !== b && bad++ < 3) console.log(`${name}: ${JSON.stringify(s)}\n  full    ${a}\n  trimmed ${b}`);
  }
  console.log(`${name}: ${texts.length - bad} of ${texts.length} texts tokenize the same`);
  return bad;
}

(async () => {
  let bad = 0;
  const bertFull = load(JSON.parse(rd('tokenizer', 'testdata', 'bert-base-uncased', 'tokenizer.json')));
  for (const dir of ['tools/pretrain/bert', 'zoo/models/kiln-bert-mini']) {
    const lines = rd(dir, 'vocab.txt').split('\n').filter((l) => l !== '');
    bad += await compare(dir, bertFull, load(bertJson(lines)), lm.concat(foods));
  }
  const gptFull = load(gpt2Json('tokenizer/testdata/gpt2'));
  for (const dir of ['tools/pretrain/gpt2', 'zoo/models/kiln-gpt2-mini']) {
    bad += await compare(dir, gptFull, load(gpt2Json(dir)), lm.concat(lm.map((s) => s + '\n\n')));
  }
  process.exit(bad ? 1 : 0);
})();
