// Package loss holds kiln's loss functions: plain, differentiable functions
// over tensors that compute exactly what PyTorch's torch.nn.functional losses
// compute (values and gradients), with the same numerically stable formulas.
//
// Every function validates its inputs first and returns an error that names
// the argument and the offending value (a label out of range, a shape that
// would broadcast, an integer target where floats are needed), so a tensor
// panic never reaches the user. Each takes a Reduction: Mean, Sum or None
// (and BatchMean for KL divergence).
//
// Losses:
//
//   - CrossEntropy: class logits (N,C) or (N,C,d1,...) against class ids or
//     class probabilities; class weights, ignore index (default -100),
//     label smoothing (also with weights).
//   - BCEWithLogits: multi-label logits against float targets in [0,1];
//     per-class weight, pos_weight and per-element weight.
//   - MSE, L1, SmoothL1 (beta) and Huber (delta) for regression.
//   - MultiMargin (the multi-class hinge, p = 1 or 2) and HingeEmbedding.
//   - KLDiv (log-target option) and Distillation (temperature, alpha).
//   - Focal (multi-class, gamma and per-class alpha) and SigmoidFocal
//     (multi-label).
//
// One deliberate difference from PyTorch: a Mean over zero non-ignored
// targets (every label is the ignore index) is 0 with a zero gradient, not
// NaN, and AllIgnoredBatches counts how often that happened. Set
// TorchEmptyMean in the options to get PyTorch's NaN.
//
// The registry (Register, Lookup, Names) maps names such as "cross_entropy"
// or "focal" to a uniform Func, so a config can say `loss: focal` and users
// can add their own losses; package losstest checks such a loss against the
// conventions the built-ins follow.
//
//	logits := tensor.FromFloat32([]float32{2, 0.5, -1, 0.1, 0.2, 3}, 2, 3).SetRequiresGrad(true)
//	labels := tensor.FromInt64([]int64{0, 2}, 2)
//	l, err := loss.CrossEntropy(logits, labels, loss.CrossEntropyOptions{})
//	if err != nil { ... }
//	l.Backward()
package loss
