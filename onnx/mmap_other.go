//go:build !unix

package onnx

import "os"

func readMapped(path string) ([]byte, func(), error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}
