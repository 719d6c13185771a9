// Package data reads training data and turns it into batches: the part of
// Hugging Face's datasets library and example scripts (run_glue.py,
// run_ner.py, run_qa.py, run_swag.py, run_clm.py, run_mlm.py) that a
// fine-tuning run needs, with exact errors instead of silent drops.
//
// The path of a row:
//
//	file -> Reader (CSV, TSV, JSONL, JSON array; streamed row by row)
//	     -> Row{File, Line, Fields}
//	     -> Preprocess(Config{Task, Tokenizer, ...}) -> Features{Examples}
//	     -> Loader{Sampler, Collator, Masker} -> Batch (flat int64/float32 + shapes)
//
// Usage for text classification:
//
//	splits, err := data.ReadSplits(data.SplitFiles{Train: "train.csv", Validation: "dev.csv"},
//		data.Options{Rename: map[string]string{"sentence": "text"}, Text: []string{"text"}, Required: []string{"label"}})
//	labels, err := data.InferLabels(splits.Train.Rows, "label", "") // sorted, as run_glue.py
//	train, err := data.Preprocess(data.Config{Task: data.Classification, Tokenizer: tok,
//		Labels: labels, MaxLength: 128}, splits.Train.Rows)
//	loader := &data.Loader{Examples: train.Examples,
//		Sampler:  data.Sampler{BatchSize: 32, Shuffle: true, Seed: 42},
//		Collator: data.Collator{Task: data.Classification, PadID: data.PadID(tok)}}
//	for batch, err := range loader.Epoch(epoch, 0) { ... }
//	// config.json: "id2label": labels.ID2Label(), "label2id": labels.Label2ID()
//
// Errors. Every bad row is a *RowError naming the file, the line the row
// starts on, the field and the value, e.g.
//
//	data: train.csv line 7, field "label" = "maybe": not in the label set ["neg" "pos"]
//
// Readers check the format (bad JSON, wrong column count, invalid UTF-8, and
// the Text and Required fields); Preprocess checks what the task needs
// (missing or empty text, labels outside the label set, answers that do not
// match the context). With Options.SkipBad or Config.SkipBad such rows are
// skipped and listed in Reader.Skipped / Features.Skipped, whose String says
// how many and which lines; nothing is dropped without a record.
//
// Determinism. Splits, shuffles, length grouping and masked-LM masking draw
// from SplitMix64 seeded by the user's seed, never from math/rand, so the
// batches of epoch e are a pure function of (seed, e) on every machine and
// Go release, and a run resumed at batch k sees exactly the batches an
// uninterrupted run would (Loader.Epoch(e, k)). Masking depends on (seed,
// epoch, example index) only, not on which batch an example lands in.
//
// Package data does not depend on package tensor: a Batch holds flat
// slices and shapes, which the trainer converts.
package data
