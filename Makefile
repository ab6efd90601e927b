# kprune: the two commands a newcomer needs are `make demo` and `make test`.
# Each installs what it needs first (the onnxruntime library into .ort/).

GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: demo test ort build bench fuzz generate clean

## demo: prune the built-in demo model and evaluate it (the main job on the embedded default)
demo: ort build
	./bin/kprune demo

## test: run the whole test suite (after go vet and staticcheck, a tool dependency in go.mod)
test: ort
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -count=1 -timeout 40m ./...

## ort: install the onnxruntime shared library into .ort/ (idempotent)
ort:
	@bash scripts/get-onnxruntime.sh

## build: build the kprune binary into bin/
build:
	$(GO) build -o bin/kprune ./cmd/kprune

## bench: run the Go benchmarks (slow; figures go into issue notes)
bench: ort
	$(GO) test -run XXX -bench . -benchtime 3x ./...

## generate: regenerate the ONNX protobuf Go code (needs protoc and protoc-gen-go)
generate:
	$(GO) generate ./onnx

clean:
	rm -rf bin
