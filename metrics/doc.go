// Package metrics holds kiln's evaluation metrics as streaming accumulators:
// the trainer feeds each evaluation batch to Add and asks for Compute at the
// end, so logits are never kept (HF issues 12878, 15466, 18947: evaluation
// running out of memory from concatenated logits).
//
// Inputs are plain Go slices in a Batch, so the package depends on nothing
// but the standard library and a trainer can feed it from any tensor type.
// Every metric is checked against sklearn, scipy, seqeval's algorithm and the
// official SQuAD scripts (tools/metricsref/gen.py writes
// testdata/metrics_reference.json).
//
// Keys are the names HF's evaluate metrics and example scripts report
// (accuracy, f1, matthews_correlation, pearson, spearmanr, overall_f1,
// exact_match, perplexity, ...); the trainer adds the eval_ prefix.
//
// A typical evaluation:
//
//	m, err := metrics.ForTask("text-classification", metrics.Options{NumClasses: 2})
//	for _, b := range batches {
//		// argmax of the logits, not the logits
//		if err := m.Add(metrics.Batch{PredIDs: b.Argmax, LabelIDs: b.Labels}); err != nil {
//			return err
//		}
//	}
//	scores := m.Compute() // accuracy, f1, precision, recall, matthews_correlation
//
// Memory: classification, multi-label, seqeval, SQuAD and perplexity keep
// counts only. Regression keeps every prediction and target (two float64 per
// example) because Spearman's rank correlation needs the whole sample; a
// user Func keeps what it is given, by design.
//
// Division by zero follows sklearn's default zero_division="warn": a
// precision, recall or F1 whose denominator is zero is 0 (sklearn also warns;
// kiln does not). Pearson and Spearman of a constant series are NaN, as scipy
// returns them.
package metrics
