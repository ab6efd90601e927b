package prune

import (
	"errors"
	"fmt"
)

// ErrImpossibleBudget classifies errors about a FLOPs budget no pruning can meet: a reduction
// outside [0, 1) (CheckReduction), a NaN budget (Threshold), or an encoder with no heads or
// neurons left to prune. Test for it with errors.Is; the messages say which case it is.
var ErrImpossibleBudget = errors.New("impossible FLOPs budget")

// budgetError is an error with its own message that errors.Is matches to ErrImpossibleBudget.
type budgetError struct{ msg string }

func (e *budgetError) Error() string { return e.msg }
func (e *budgetError) Unwrap() error { return ErrImpossibleBudget }

// impossibleBudget returns an error matching ErrImpossibleBudget with the formatted message.
func impossibleBudget(format string, args ...any) error {
	return &budgetError{msg: fmt.Sprintf(format, args...)}
}
