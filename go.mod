module github.com/kiln-ml/kiln

go 1.26.8

require golang.org/x/text v0.31.0

require github.com/nlpodyssey/gopickle v0.2.0

require go.yaml.in/yaml/v3 v3.0.6
