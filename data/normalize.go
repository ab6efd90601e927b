package data

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file holds the text normalizers and pre-tokenizers of the Hugging Face
// "tokenizers" pipeline that BERT-family models use, re-implemented on Go's unicode
// tables and golang.org/x/text/unicode/norm. They are the slow, general path; the
// tokenizer has an allocation-free ASCII fast path for the common BERT configuration
// (see Tokenizer.encodeSegment).

// normKind enumerates the normalizers kprune understands.
type normKind uint8

const (
	normBert normKind = iota
	normLowercase
	normStripAccents
	normNFD
	normNFKD
	normNFC
	normNFKC
	normStrip       // Strip: trim whitespace on the left and/or right
	normReplace     // Replace: a literal string or a regular expression by content
	normPrepend     // Prepend: content before any non-empty text
	normPrecompiled // Precompiled: SentencePiece normalization rules
	normNmt         // Nmt: SentencePiece's NMT control-character clean-up
)

// normStep is one normalizer of a pipeline. The boolean fields configure normBert (clean,
// chinese, strip, lower) and normStrip (left, right); content, literal and re configure
// normReplace and normPrepend; spm configures normPrecompiled.
type normStep struct {
	kind                         normKind
	clean, chinese, strip, lower bool
	left, right                  bool
	literal                      string         // normReplace: the literal pattern, when re is nil
	re                           *regexp.Regexp // normReplace: the regular expression pattern
	content                      string
	spm                          *precompiledMap
}

// normalizer is a sequence of normalization steps applied in order.
type normalizer []normStep

// classic reports whether every step is one of the BERT-family normalizers, which the
// WordPiece fast paths support.
func (n normalizer) classic() bool {
	for _, st := range n {
		if st.kind > normNFKC {
			return false
		}
	}
	return true
}

// apply runs every step over s.
func (n normalizer) apply(s string) string {
	for _, st := range n {
		s = st.run(s)
	}
	return s
}

// applyLead is apply that also follows the leading bytes of s that stand at the very
// start of the input text: lead is their number in s, and the result their number in the
// normalized string. The Hugging Face library tracks this through its alignments, and
// Metaspace's prepend_scheme "first" depends on it: a normalizer that drops the first
// character (Strip, a control character removed) leaves nothing at the start, while an
// expansion (a CJK character padded with spaces, a ligature split) or a prefix
// (Prepend) widens it.
func (n normalizer) applyLead(s string, lead int) (string, int) {
	for _, st := range n {
		in := s
		s = st.run(s)
		if lead > 0 || st.kind == normPrepend {
			lead = min(st.leadAfter(in, lead), len(s))
		}
	}
	return s, lead
}

// run applies one step to s.
func (st normStep) run(s string) string {
	switch st.kind {
	case normBert:
		s = bertNormalize(s, st)
	case normLowercase:
		s = string(lowercase(nil, s))
	case normStripAccents:
		s = string(dropRunes(nil, s, unicode.M))
	case normNFD:
		s = norm.NFD.String(s)
	case normNFKD:
		s = norm.NFKD.String(s)
	case normNFC:
		s = norm.NFC.String(s)
	case normNFKC:
		s = norm.NFKC.String(s)
	case normStrip:
		if st.left {
			s = strings.TrimLeftFunc(s, unicode.IsSpace)
		}
		if st.right {
			s = strings.TrimRightFunc(s, unicode.IsSpace)
		}
	case normReplace:
		if st.re != nil {
			s = st.re.ReplaceAllLiteralString(s, st.content)
		} else {
			s = strings.ReplaceAll(s, st.literal, st.content)
		}
	case normPrepend:
		if s != "" {
			s = st.content + s
		}
	case normPrecompiled:
		s = st.spm.apply(s)
	case normNmt:
		s = nmtNormalize(s)
	}
	return s
}

// leadAfter returns how many leading bytes of the step's output stand at the start of
// the input text, given that lead bytes of its input in do. Inserted text takes the
// position of the character before it, or the start when it is inserted first.
func (st normStep) leadAfter(in string, lead int) int {
	switch st.kind {
	case normStrip:
		if st.left {
			return len(strings.TrimLeftFunc(in[:lead], unicode.IsSpace))
		}
		return lead
	case normPrepend:
		if in == "" {
			return 0
		}
		return len(st.content) + lead
	}
	return len(st.run(in[:lead]))
}

// nmtNormalize mirrors the Nmt normalizer of Hugging Face tokenizers: drop ASCII control
// characters (except tab, newline, form feed and carriage return) and map a few
// whitespace-like code points to a space.
func nmtNormalize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0x01 && r <= 0x08, r == 0x0B, r >= 0x0E && r <= 0x1F, r == 0x7F, r == 0x8F, r == 0x9F:
			return -1
		case r == 0x09, r == 0x0A, r == 0x0C, r == 0x0D, r == 0x1680, r >= 0x200B && r <= 0x200F,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xFEFF, r == 0xFFFD:
			return ' '
		}
		return r
	}, s)
}

// bertNormalize mirrors the BertNormalizer of Hugging Face tokenizers: clean text
// (drop NUL, U+FFFD and "other" characters, map whitespace to a space), surround CJK
// ideographs with spaces, strip accents (NFD, then drop non-spacing marks) and lowercase,
// in that order.
func bertNormalize(s string, st normStep) string {
	b := make([]byte, 0, len(s)+8)
	for _, r := range s {
		if st.clean {
			if r == 0 || r == utf8.RuneError || isControl(r) {
				continue
			}
			if isWhitespace(r) {
				r = ' '
			}
		}
		if st.chinese && isChinese(r) {
			b = append(b, ' ')
			b = utf8.AppendRune(b, r)
			b = append(b, ' ')
			continue
		}
		b = utf8.AppendRune(b, r)
	}
	if st.strip {
		b = dropRunes(nil, string(norm.NFD.Bytes(b)), unicode.Mn)
	}
	if st.lower {
		b = lowercase(nil, string(b))
	}
	return string(b)
}

// dropRunes appends to dst the runes of s that are not in table.
func dropRunes(dst []byte, s string, table *unicode.RangeTable) []byte {
	for _, r := range s {
		if !unicode.Is(table, r) {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// lowercase appends the full Unicode lowercase mapping of s to dst, character by
// character as Rust's char::to_lowercase does (no context-sensitive final sigma). Go's
// unicode.ToLower is the simple mapping; the only unconditional multi-rune lowercase
// mapping in Unicode, U+0130, is special-cased.
func lowercase(dst []byte, s string) []byte {
	for _, r := range s {
		if r == 0x130 {
			dst = append(dst, "i\u0307"...)
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

// isWhitespace reports whether r is whitespace in the BERT sense: the Unicode
// White_Space property (which includes tab, newline and carriage return).
func isWhitespace(r rune) bool {
	return unicode.IsSpace(r)
}

// isControl reports whether the BERT normalizer removes r: general categories Cc, Cf and
// Co, except tab, newline and carriage return, which count as whitespace.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isChinese reports whether r is a CJK ideograph, with the exact ranges of Hugging Face
// tokenizers (which differ slightly from the original BERT code's).
func isChinese(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// isASCIIPunct reports whether the byte c is ASCII punctuation in Rust's sense
// (char::is_ascii_punctuation), which also covers symbols such as $ + < = > ^ ` | ~.
func isASCIIPunct(c byte) bool {
	return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~')
}

// isBertPunct reports whether the BERT pre-tokenizer isolates r as punctuation.
func isBertPunct(r rune) bool {
	if r < 0x80 {
		return isASCIIPunct(byte(r))
	}
	return unicode.IsPunct(r)
}

// isWordRune approximates the \w class of Rust's regex crate (used by the Whitespace
// pre-tokenizer): letters, marks, decimal digits, connector punctuation, join controls.
func isWordRune(r rune) bool {
	if r < 0x80 {
		return r == '_' || (r >= '0' && r <= '9') || (r|0x20 >= 'a' && r|0x20 <= 'z')
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.In(r, unicode.Nd, unicode.Nl, unicode.Pc, unicode.Other_Alphabetic) ||
		r == 0x200C || r == 0x200D
}

// preKind enumerates the pre-tokenizers kprune understands.
type preKind uint8

const (
	preBert            preKind = iota // split on whitespace, isolate punctuation
	preWhitespaceSplit                // split on whitespace only
	preWhitespace                     // \w+|[^\w\s]+
	preByteLevel                      // GPT-2 regex split, then bytes to printable characters
	preMetaspace                      // spaces to '▁', optional prefix, split before each '▁'
)

// preStep is one pre-tokenizer of a sequence; the fields after kind configure
// preByteLevel and preMetaspace (see pretokenize.go).
type preStep struct {
	kind           preKind
	addPrefixSpace bool // preByteLevel: prepend a space to text not starting with one
	useRegex       bool // preByteLevel: split with the GPT-2 regular expression
	replacement    string
	prepend        prependScheme // preMetaspace
	splitWords     bool          // preMetaspace: split before each replacement character
}

// preTokenizer is a sequence of pre-tokenizers; each splits the words of the previous
// one further. An empty sequence keeps the whole segment as one word.
type preTokenizer []preStep

// classic reports whether every step is one of the BERT-family pre-tokenizers, which
// only split (the WordPiece fast paths rely on it).
func (p preTokenizer) classic() bool {
	for _, st := range p {
		if st.kind > preWhitespace {
			return false
		}
	}
	return true
}

// split appends the words of s to dst. It handles the classic pre-tokenizers only; see
// splitGeneric for the others.
func (p preTokenizer) split(dst []string, s string) []string {
	if len(p) == 0 {
		if s != "" {
			dst = append(dst, s)
		}
		return dst
	}
	start := len(dst)
	dst = splitOne(dst, s, p[0].kind)
	for _, st := range p[1:] {
		words := append([]string(nil), dst[start:]...)
		dst = dst[:start]
		for _, w := range words {
			dst = splitOne(dst, w, st.kind)
		}
	}
	return dst
}

// splitOne appends the words of s under one pre-tokenizer to dst.
func splitOne(dst []string, s string, k preKind) []string {
	const (
		clsWord = iota
		clsSpace
		clsPunct
	)
	classify := func(r rune) int {
		switch k {
		case preBert:
			if isWhitespace(r) {
				return clsSpace
			}
			if isBertPunct(r) {
				return clsPunct
			}
			return clsWord
		case preWhitespaceSplit:
			if isWhitespace(r) {
				return clsSpace
			}
			return clsWord
		default: // preWhitespace: runs of word runes and runs of other non-space runes
			if isWhitespace(r) {
				return clsSpace
			}
			if isWordRune(r) {
				return clsWord
			}
			return clsPunct + 1 // a run class, not isolated
		}
	}
	start, startCls := -1, -1
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		c := classify(r)
		if start >= 0 && c != startCls {
			dst = append(dst, s[start:i])
			start = -1
		}
		switch c {
		case clsSpace:
		case clsPunct:
			dst = append(dst, s[i:i+size])
		default:
			if start < 0 {
				start, startCls = i, c
			}
		}
		i += size
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}
