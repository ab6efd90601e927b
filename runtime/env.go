// Package runtime is kprune's only door to onnxruntime: it locates and initialises the shared
// library once per process, creates sessions with thread, optimisation and execution-provider
// options, runs them with named Go-side tensors, and measures latency.
//
// It knows nothing about encoders or pruning. Importers usually alias it (e.g. `ort`) to avoid
// confusion with the standard library's runtime package.
//
// # Errors
//
// Errors a caller can test for with errors.Is:
//
//   - ErrNoLibrary: the onnxruntime shared library cannot be found or loaded (LibraryPath, Init,
//     and everything that needs the runtime).
package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvLibrary names the environment variable that, when set, gives the path of the onnxruntime
// shared library (libonnxruntime.so.1, libonnxruntime.dylib...). It takes precedence over every
// other location.
const EnvLibrary = "KPRUNE_ORT_LIB"

// ORTVersion is the onnxruntime release that kprune's set-up script installs and is tested with.
const ORTVersion = "1.30.0"

// ErrNoLibrary classifies the errors of LibraryPath and Init when the onnxruntime shared library
// cannot be found or loaded; their messages say where kprune looked and how to install it. Test
// for it with errors.Is.
var ErrNoLibrary = errors.New("onnxruntime shared library not found")

// libraryError is an error about the library with its own message (and cause, if any) that
// errors.Is also matches to ErrNoLibrary.
type libraryError struct{ err error }

func (e *libraryError) Error() string   { return e.err.Error() }
func (e *libraryError) Unwrap() []error { return []error{e.err, ErrNoLibrary} }

var (
	initOnce sync.Once
	initErr  error
	initPath string
)

// libraryNames returns the file names of the onnxruntime library for this platform.
func libraryNames() []string {
	switch goruntime.GOOS {
	case "darwin":
		return []string{"libonnxruntime.dylib", "libonnxruntime.1.dylib", "libonnxruntime." + ORTVersion + ".dylib"}
	case "windows":
		return []string{"onnxruntime.dll"}
	}
	return []string{"libonnxruntime.so.1", "libonnxruntime.so", "libonnxruntime.so." + ORTVersion}
}

// LibraryPath finds the onnxruntime shared library: the KPRUNE_ORT_LIB environment variable,
// then a `.ort` folder in the working directory or any parent of it, then next to the
// executable (or in ../.ort from it), then the system library folders. The error, which matches
// ErrNoLibrary, says how to install it.
func LibraryPath() (string, error) {
	if p := os.Getenv(EnvLibrary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", &libraryError{fmt.Errorf("onnxruntime library from $%s: %w", EnvLibrary, err)}
		}
		return p, nil
	}
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, ".ort"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		// Next to the binary, and the repository's .ort when the binary is in its bin/.
		dirs = append(dirs, filepath.Dir(exe), filepath.Join(filepath.Dir(exe), ".ort"), filepath.Join(filepath.Dir(exe), "..", ".ort"))
	}
	dirs = append(dirs, "/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/opt/homebrew/lib")
	for _, d := range dirs {
		for _, n := range libraryNames() {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%w: run `make ort` (or scripts/get-onnxruntime.sh) in the kprune repository to install it into .ort/, or set "+EnvLibrary+" to the path of libonnxruntime (version "+ORTVersion+" or newer)", ErrNoLibrary)
}

// EnvDisableTelemetry is the environment variable that stops onnxruntime builds carrying a
// telemetry SDK (the npm package's 1.30 build does) from collecting or storing anything: no
// device id, no event database under ~/.cache, no debug logs in $TMPDIR. The library reads it
// when it is loaded, so Init sets it before loading and kprune never lets the runtime collect
// telemetry.
const EnvDisableTelemetry = "ORT_DISABLE_TELEMETRY"

// Init locates the onnxruntime library and initialises its environment with telemetry off
// (see EnvDisableTelemetry) and logging at the fatal level only (errors reach callers as Go
// errors; onnxruntime never writes its own lines to stderr). It is safe to call many times from many goroutines; only the first
// call does the work, and later calls return its result. When the library cannot be found or
// loaded the error matches ErrNoLibrary.
func Init() error {
	initOnce.Do(func() {
		p, err := LibraryPath()
		if err != nil {
			initErr = err
			return
		}
		// Before the library is loaded (InitializeEnvironment loads it): the telemetry SDK
		// starts when the library initialises, and reads this variable then.
		if err := os.Setenv(EnvDisableTelemetry, "1"); err != nil {
			initErr = fmt.Errorf("disabling onnxruntime telemetry: %w", err)
			return
		}
		ort.SetSharedLibraryPath(p)
		// Fatal only: onnxruntime's own logger writes (coloured) lines to stderr whatever it is,
		// and every error it would log also comes back to us as a status that callers report.
		if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
			initErr = &libraryError{fmt.Errorf("initialising onnxruntime from %s: %w", p, err)}
			return
		}
		if err := ort.DisableTelemetry(); err != nil {
			initErr = fmt.Errorf("disabling onnxruntime telemetry events: %w", err)
			return
		}
		initPath = p
	})
	return initErr
}

// Library returns the path of the loaded library and onnxruntime's version string; Init must
// have succeeded.
func Library() (path, version string) {
	if Init() != nil {
		return "", ""
	}
	return initPath, ort.GetVersion()
}
