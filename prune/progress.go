package prune

// Phase names what a driver is doing when it reports [Progress].
type Phase string

// The phases the drivers report. K-prune reports PhaseTeacher once, then PhaseMeasure and
// PhaseAdvance for every sublayer; Kwon et al. report PhaseGradients once, then for every
// sublayer PhaseTune (or PhaseTeacher where nothing is tuned) and PhaseAdvance.
const (
	// PhaseTeacher: the teacher runs over the calibration set (K-prune's first pass caching the
	// loss targets, or Kwon et al.'s teacher advancing through a sublayer that is not tuned).
	PhaseTeacher Phase = "teacher"
	// PhaseMeasure: K-prune measures the knowledge of the units of the current sublayer and above.
	PhaseMeasure Phase = "measure"
	// PhaseTune: Kwon et al. accumulate the least-squares problem of the current sublayer's scales.
	PhaseTune Phase = "tune"
	// PhaseAdvance: the pruned student's frontier advances through the current sublayer.
	PhaseAdvance Phase = "advance"
	// PhaseGradients: Kwon et al. collect the mask gradients of the task loss.
	PhaseGradients Phase = "gradients"
)

// Progress reports the driver's position; the CLI renders it.
type Progress struct {
	Phase     Phase // one of "teacher", "measure", "tune", "advance", "gradients"
	Sublayer  int   // current sublayer s (-1 during the teacher pass and the gradients)
	Sublayers int   // 2L
	Done      int   // batches done in this phase
	Total     int   // batches in this phase
}
