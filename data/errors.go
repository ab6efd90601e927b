package data

import (
	"errors"
	"fmt"
)

// ErrBadData classifies errors about the content of a data file: empty, binary or not UTF-8,
// malformed rows (wrong field count, invalid JSON or CSV), missing columns or fields, bad labels.
// Every such error is a *DataError, which matches ErrBadData in errors.Is.
var ErrBadData = errors.New("bad data")

// DataError is an error about the content of a data file, at a line or about the whole file.
// Its message is "FILE:LINE: ERR", or "FILE: ERR" when Line is 0. errors.Is(err, ErrBadData)
// holds for it, and errors.As gives the file and line:
//
//	var de *data.DataError
//	if errors.As(err, &de) {
//		fmt.Println(de.File, de.Line)
//	}
type DataError struct {
	File string // the file's name as given to the reader
	Line int    // 1-based line of the offending row; 0 when the error is about the whole file
	Err  error  // what is wrong
}

// Error returns "FILE:LINE: ERR" ("FILE: ERR" without a line).
func (e *DataError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap returns Err.
func (e *DataError) Unwrap() error { return e.Err }

// Is reports whether target is ErrBadData.
func (e *DataError) Is(target error) bool { return target == ErrBadData }

// badData returns a *DataError for file at line (0: the whole file) with the formatted message,
// which may wrap an error with %w.
func badData(file string, line int, format string, args ...any) error {
	return &DataError{File: file, Line: line, Err: fmt.Errorf(format, args...)}
}

// asDataError returns err as a *DataError when it is (or wraps) one: readers pass such errors
// from the reader under them (see lineLimitReader) on unwrapped.
func asDataError(err error) (*DataError, bool) {
	var de *DataError
	ok := errors.As(err, &de)
	return de, ok
}
