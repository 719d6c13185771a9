module github.com/kiln-ml/kiln

go 1.26.8

require golang.org/x/text v0.31.0

require (
	github.com/nlpodyssey/gopickle v0.2.0
	golang.org/x/term v0.48.0
)

require golang.org/x/sys v0.50.0 // indirect
