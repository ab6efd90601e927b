package data

// DefaultCalibSamples is the number of calibration sequences K-prune's reference implementation
// draws when none is given: int(100000 / average length) of encs (in tokens, padding excluded
// as Encoding.Len counts), at least 1. It is 0 when encs is empty.
func DefaultCalibSamples(encs []Encoding) int {
	if len(encs) == 0 {
		return 0
	}
	total := 0
	for i := range encs {
		total += encs[i].Len()
	}
	avg := float64(total) / float64(len(encs))
	return max(1, int(100000/avg))
}
