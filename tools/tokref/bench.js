// bench.js measures Hugging Face's Rust tokenizers (npm `tokenizers`) on the
// same text as the Go BenchmarkEncode: every text of
// tokenizer/testdata/corpus.jsonl, repeated 50 times, encoded with
// encodeBatch (Rust + rayon; RAYON_NUM_THREADS picks the thread count).
// It prints the median MB/s of 15 runs for BERT and GPT-2.
//
//   NODE_PATH=/tmp/tokref/node_modules RAYON_NUM_THREADS=1 node tools/tokref/bench.js
//   NODE_PATH=/tmp/tokref/node_modules RAYON_NUM_THREADS=2 node tools/tokref/bench.js
// Run tools/tokref/gen.js first: it writes the GPT-2 tokenizer.json used here.
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const os = require('os');
const path = require('path');

const td = path.join(__dirname, '..', '..', 'tokenizer', 'testdata');
const rows = fs.readFileSync(path.join(td, 'corpus.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
const lines = [];
let bytes = 0;
for (let k = 0; k < 50; k++) {
  for (const r of rows) {
    for (const s of [r.text, r.pair]) {
      if (s !== undefined && s !== '') { lines.push(s); bytes += Buffer.byteLength(s, 'utf8'); }
    }
  }
}

async function bench(name, file) {
  const tok = Tokenizer.fromFile(file);
  await tok.encodeBatch(lines.slice(0, 500)); // warm up
  const rates = [];
  for (let i = 0; i < 15; i++) {
    const t0 = process.hrtime.bigint();
    await tok.encodeBatch(lines);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(bytes / dt / 1e6);
  }
  rates.sort((a, b) => a - b);
  console.log(`${name}: ${lines.length} texts, ${bytes} bytes, RAYON_NUM_THREADS=${process.env.RAYON_NUM_THREADS || 'all'}: median ${rates[7].toFixed(2)} MB/s`);
}

(async () => {
  await bench('bert', path.join(td, 'bert-base-uncased', 'tokenizer.json'));
  await bench('gpt2', path.join(os.tmpdir(), 'kiln-gpt2-tokenizer.json'));
})();
