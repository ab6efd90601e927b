//go:build ignore

// gen_calib writes sst2-calib.tsv, the demo's calibration pool: 8,000 rows of GLUE SST-2 train
// drawn without replacement (PCG seed 0), header kept. Regenerate with
//
//	go run gen_calib.go ../../shared/data/glue/sst2/train.tsv > sst2-calib.tsv
package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var header string
	var rows []string
	for sc.Scan() {
		if header == "" {
			header = sc.Text()
			continue
		}
		rows = append(rows, sc.Text())
	}
	rng := rand.New(rand.NewPCG(0, 0))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintln(w, header)
	for _, r := range rows[:8000] {
		fmt.Fprintln(w, r)
	}
}
