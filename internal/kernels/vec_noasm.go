//go:build !amd64 || purego

package kernels

// Without assembly every kernel is the pure-Go one.

const haveVecAsm = false

func vecExp(dst, src []float32)                  { expGeneric(dst, src) }
func vecSoftmax(dst, src []float32)              { softmaxGeneric(dst, src) }
func vecSoftmaxBackward(dx, y, g []float32)      { softmaxBackwardGeneric(dx, y, g) }
func vecLogSoftmax(dst, src []float32)           { logSoftmaxGeneric(dst, src) }
func vecLogSoftmaxBackward(dx, out, g []float32) { logSoftmaxBackwardGeneric(dx, out, g) }
func vecGELU(dst, src, bias []float32)           { geluGeneric(dst, src, bias) }
func vecGELUBackward(dx, src, bias, g []float32) { geluBackwardGeneric(dx, src, bias, g) }
func vecGELUTanh(dst, src, bias []float32)       { geluTanhGeneric(dst, src, bias) }
func vecGELUTanhBackward(dx, src, bias, g []float32) {
	geluTanhBackwardGeneric(dx, src, bias, g)
}
func vecLayerNorm(dst, src, weight, bias []float32, eps float32) (float32, float32) {
	return layerNormGeneric(dst, src, weight, bias, eps)
}
func vecLayerNormBackward(dx, dw, db, src, weight, g []float32, mean, rstd float32) {
	layerNormBackwardGeneric(dx, dw, db, src, weight, g, mean, rstd)
}
func vecAdamW(p, g, m, v []float32, s *adamScalars) { adamWGeneric(p, g, m, v, s) }
func vecAxpy(y, x []float32, a float32)             { axpyGeneric(y, x, a) }
func vecScale(x []float32, a float32)               { scaleGeneric(x, a) }
func vecAdd(dst, a, b []float32)                    { addGeneric(dst, a, b) }
func vecMul(dst, a, b []float32)                    { mulGeneric(dst, a, b) }
func vecDot(a, b []float32) float32                 { return dotGeneric(a, b) }
func vecSum(x []float32) float32                    { return sumGeneric(x) }
func vecMax(x []float32) float32                    { return maxGeneric(x) }

// useVecAsm exists so that tests can toggle it on every build.
var useVecAsm = false
